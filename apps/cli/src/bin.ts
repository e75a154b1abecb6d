import { main } from './main.js';
import { installSignalHandlers } from './shutdown.js';

// The only place that ends the process: everything else returns or throws.
installSignalHandlers((status) => process.exit(status));
// `mosaic storage status | head`: a closed stdout is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
const status = await main(process.argv.slice(2));
process.exitCode = status;
