// Hostile sample: fill memory, 64 MiB at a time with pages actually
// written, up to 6 GiB; a sandbox without a memory limit lets it through.
const kept = [];
let mib = 0;
try {
  while (mib < 6144) {
    kept.push(Buffer.alloc(64 << 20, 1));
    mib += 64;
  }
} catch (e) {
  console.log(`stopped at ${mib} MiB: ${e.message}`);
}
console.log(`held ${mib} MiB`);
