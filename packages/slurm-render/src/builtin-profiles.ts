// The shipped profiles, inlined into the standalone build (dist/, copied to login nodes without node_modules).
import generic from "../profiles/generic.yaml";
import local from "../profiles/local.yaml";
import lumi from "../profiles/lumi.yaml";
import olivia from "../profiles/olivia.yaml";

export const BUNDLED_PROFILES: Record<string, string> = { generic, local, lumi, olivia };
