#!/usr/bin/env node
// Checked in (not built) so npm links an executable file even before the first build.
import('../dist/bin.js');
