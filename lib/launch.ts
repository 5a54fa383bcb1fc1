#!/usr/bin/env node
/**
 * `node lib/launch.js` (`torchbridge-launch`): starts the processes of a distributed job with
 * torchrun's environment, for users without Python. `--help` lists the options.
 */
import { LAUNCH_HELP, launch, parseLaunchArgs } from './cli/launch';
import { runCli } from './cli/run';

runCli('torchbridge-launch', async (argv) => {
  const plan = parseLaunchArgs(argv);
  if (plan === null) {
    process.stdout.write(`${LAUNCH_HELP}\n`);
    return;
  }
  process.exitCode = await launch(plan);
});
