// man/<command>.1 from the command's own `--help` text (the same text, not a second copy): the
// usage line becomes SYNOPSIS, the text up to the first section heading DESCRIPTION, and each
// yargs section ("Options:", "Examples:", ...) a section of its own, kept as printed (.nf).
const roffLine = (line) => {
  const escaped = line.replace(/\\/g, "\\e");
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
};

export function manPage(command, help, version) {
  const lines = help.replace(/\n+$/, "").split("\n");
  const out = [`.TH ${command.toUpperCase()} 1 "" "slurmpipe ${version}" "slurmpipe"`, ".SH NAME", `${command} \\- part of slurmpipe`, ".SH SYNOPSIS", ".nf", roffLine(lines[0] ?? command), ".fi"];
  let section = "DESCRIPTION";
  let body = [];
  const flush = () => {
    while (body.length > 0 && body[0].trim() === "") body.shift();
    if (body.length === 0) return;
    out.push(`.SH ${section}`, ".nf", ...body.map(roffLine), ".fi");
    body = [];
  };
  for (const line of lines.slice(1)) {
    const heading = /^([A-Z][A-Za-z0-9 ,/()-]*):$/.exec(line);
    if (heading) {
      flush();
      section = heading[1].toUpperCase();
    } else body.push(line);
  }
  flush();
  return `${out.join("\n")}\n`;
}
