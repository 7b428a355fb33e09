// Figures for issue 10 items 1, 2, 4 (not part of npm test): 100 kills of greenlets parked in patched
// openSync / opendirSync / execSync with a grandchild holding the pipes, the spawnSync family's own timeout
// and maxBuffer with a grandchild, and imapUnordered({ maxsize: 2 }) after 20 interrupted next().
//   node scripts/interrupt-figures.cjs [dist dir, default ./dist]
const dist = require('node:path').resolve(process.argv[2] ?? require('node:path').join(__dirname, '..', 'dist'));
const fs = require('fs'); const cp = require('child_process');
const ofs = { readdirSync: fs.readdirSync, readFileSync: fs.readFileSync, writeFileSync: fs.writeFileSync };
require(dist + '/entries/monkey.js').patchAll();
const { spawn, sleep, withTimeout, Group, Event } = require(dist + '/entries/index.js');
const fds = () => ofs.readdirSync('/proc/self/fd').length;
const kids = () => ofs.readdirSync('/proc/self/task').reduce((n, t) => { try { return n + ofs.readFileSync(`/proc/self/task/${t}/children`, 'utf8').split(' ').filter(Boolean).length; } catch { return n; } }, 0);
const settle = () => { let last = -1; for (let i = 0; i < 100; i++) { const n = fds(); if (n === last && i > 10) break; last = n; sleep(50); } };
const { GreenletExit } = require(dist + '/entries/index.js');
function kill100(label, call, cleanup) {
  const f0 = fds(), k0 = kids(); let finished = 0;
  for (let i = 0; i < 100; i++) { const g = spawn(call); sleep(0); g.kill(); if (!(g.value instanceof GreenletExit) && g.value !== undefined) { finished++; cleanup(g.value); } }
  settle();
  console.log(`${label}: fds ${f0} -> ${fds()}, children ${k0} -> ${kids()} (${100 - finished} interrupted, ${finished} had returned before the kill: closed by the script)`);
}
spawn(() => {
  cp.execSync('true');
  kill100('openSync x100 kills', () => fs.openSync(__filename, 'r'), (fd) => fs.closeSync(fd));
  kill100('opendirSync x100 kills', () => fs.opendirSync('/tmp'), (d) => d.closeSync());
  kill100('execSync(grandchild) x100 kills', () => cp.execSync('(sleep 3) & sleep 3; echo done'), () => {});
  let t = Date.now(); try { cp.execSync('sleep 4; echo done', { timeout: 300, stdio: 'pipe' }); } catch (e) { console.log(`execSync('sleep 4; echo done', {timeout: 300}): ${e.code} after ${Date.now() - t} ms`); }
  t = Date.now(); try { cp.execSync('head -c 100000 /dev/zero; sleep 4', { maxBuffer: 1000, stdio: 'pipe' }); } catch (e) { console.log(`execSync maxBuffer 1000 with sleep 4: ${e.code} after ${Date.now() - t} ms`); }
  const release = new Event(); let running = 0, peak = 0;
  const it = new Group().imapUnordered((n) => { running++; peak = Math.max(peak, running); release.wait(); running--; return n; }, Array.from({ length: 40 }, (_, i) => i), { maxsize: 2 });
  for (let i = 0; i < 20; i++) withTimeout(1, () => it.next(), { default: null });
  sleep(10);
  console.log(`imapUnordered maxsize 2, 20 interrupted next(): ${running} calls running`);
  release.set(); const n = [...it].length; console.log(`  results after release: ${n}`);
  const s = Date.now(); process.on('exit', () => console.log(`exit ${Date.now() - s} ms after the last line`));
});
