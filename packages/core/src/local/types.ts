/** What a local "Slurm command" answers: the same streams and exit code the real one would. */
export interface LocalResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}
