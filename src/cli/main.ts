// Entry point of the `meridian` command.
import { main } from './program.ts';

const code = await main(process.argv);
// Long-running commands (hub) return only when they are done.
process.exit(code);
