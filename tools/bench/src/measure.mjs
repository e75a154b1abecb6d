import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * @typedef {{ cmd: string, args: string[], env?: NodeJS.ProcessEnv }} Command
 * @typedef {{ seconds: number, peakRssMb: number, stdout: string, stderr: string }} Measurement
 */

/** Peak resident set (VmHWM) of a live process, in kB; 0 once it is gone. */
function peakKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs a pipeline (`a | b | c`, each stdout into the next stdin through a kernel pipe, as a
 * shell would), and measures its wall time and peak memory: the sum of each process's peak
 * RSS (VmHWM, read every 20 ms while it runs; it only grows, so the last read is the peak
 * up to the last 20 ms). Rejects with the last process's stderr when any exits non-zero.
 * @param {Command[]} commands
 * @returns {Promise<Measurement>}
 */
export function measure(commands) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    /** @type {import('node:child_process').ChildProcess[]} */
    const children = [];
    for (const [i, c] of commands.entries()) {
      const stdin = i === 0 ? 'ignore' : children[i - 1].stdout;
      children.push(spawn(c.cmd, c.args, { env: { ...process.env, ...c.env }, stdio: [stdin, 'pipe', 'pipe'] }));
      // The next process owns that pipe now; the parent lets go of its end (or `close` never comes).
      if (i > 0) children[i - 1].stdout.destroy();
    }
    const peaks = children.map(() => 0);
    const poll = setInterval(() => children.forEach((child, i) => (peaks[i] = Math.max(peaks[i], peakKb(child.pid)))), 20);
    let stdout = '';
    let stderr = '';
    const last = children.at(-1);
    last.stdout.on('data', (d) => (stdout += d));
    for (const child of children) child.stderr.on('data', (d) => (stderr += d));
    const exits = children.map((child, i) => new Promise((done, fail) => {
      child.on('error', fail);
      // Read the peak once more just before the process is reaped.
      child.on('exit', () => (peaks[i] = Math.max(peaks[i], peakKb(child.pid))));
      child.on('close', (code, signal) => done({ code, signal, name: commands[i].cmd }));
    }));
    Promise.all(exits).then((results) => {
      clearInterval(poll);
      const seconds = (performance.now() - started) / 1000;
      const failed = results.find((r) => r.code !== 0);
      if (failed) {
        reject(new Error(`${failed.name} exited ${failed.code ?? failed.signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
        return;
      }
      resolve({ seconds, peakRssMb: peaks.reduce((a, b) => a + b, 0) / 1024, stdout, stderr });
    }, (error) => {
      clearInterval(poll);
      reject(error);
    });
  });
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
