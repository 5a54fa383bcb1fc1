/**
 * The frame of a CLI: runs its main function and turns failures into an exit status and one
 * line on stderr: 2 for a UsageError (bad options or inputs; the message names the fix), 1 for
 * anything else. TORCHBRIDGE_DEBUG=1 prints the stack as well.
 */
import { UsageError } from './flags';

/**
 * Runs `main` with the command line's arguments; sets process.exitCode when it fails.
 * `exitOnFailure` (a rank of a distributed job) exits at once instead: c10d's threads may still
 * wait on ranks that are gone. `prefix` starts the error line (e.g. "rank 1: ").
 */
export function runCli(name: string, main: (argv: string[]) => Promise<void>, options: { exitOnFailure?: boolean; prefix?: string } = {}): void {
  main(process.argv.slice(2)).catch((error: unknown) => {
    const err = error instanceof Error ? error : new Error(String(error));
    const usage = err instanceof UsageError;
    // the one place messages become one line: causes quoted inside them may span several
    process.stderr.write(`${options.prefix ?? ''}${name}: error: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`);
    if (process.env.TORCHBRIDGE_DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
    process.exitCode = usage ? 2 : 1;
    if (options.exitOnFailure) process.exit(process.exitCode);
  });
}
