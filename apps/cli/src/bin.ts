import { main } from './main.js';

// The only place that ends the process: everything else returns or throws.
const status = await main(process.argv.slice(2));
process.exitCode = status;
