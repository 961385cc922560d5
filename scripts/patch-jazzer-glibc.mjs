#!/usr/bin/env node
/**
 * Makes the prebuilt libFuzzer addon of @jazzer.js/fuzzer 4.0.0 load on
 * glibc 2.36 / libstdc++ 12 (Debian 12, this project's machines).
 *
 * Why: the npm tarball ships prebuilds (nothing is downloaded or compiled),
 * but its linux-x64 one was linked on a newer distro and asks for
 *   - GLIBC_2.38 for __isoc23_strtol and __isoc23_strtoul: C23 strtol/strtoul,
 *     identical to the classic ones except that base 0 or 2 also accepts a
 *     "0b" prefix; libFuzzer only parses its own -flag=N values with them;
 *   - GLIBCXX_3.4.32 for _ZSt21ios_base_library_initv, the marker GCC 13 puts
 *     in objects that include <iostream>: an undefined symbol with no
 *     relocation, never called.
 * so dlopen fails with "version `GLIBC_2.38' not found".
 *
 * What, in place, only when it is needed and only on the exact file it knows:
 *   1. the two imports are renamed to strtol / strtoul (st_name moves 9 bytes
 *      on: ".dynstr" already holds "__isoc23_strtol", whose tail is "strtol")
 *      and bound to libc's GLIBC_2.2.5;
 *   2. the GLIBC_2.38 and GLIBCXX_3.4.32 version needs are marked
 *      VER_FLG_WEAK, so the loader no longer refuses the file without them
 *      (after step 1 nothing that is relocated uses them).
 *
 * Safety: it does nothing off linux-x64, nothing when the addon already
 * loads (a newer distro, or patched before), and patches only a file whose
 * SHA-256 is the 4.0.0 prebuild's; the result must have the expected SHA-256
 * and must load, or the original is kept. Any other file: a clear message
 * (and exit 1 with --strict) instead of a guess.
 *
 *   node scripts/patch-jazzer-glibc.mjs            # npm prepare (this repository only): warns, never fails the install
 *   node scripts/patch-jazzer-glibc.mjs --strict   # npm run fuzz:build: fails unless the addon loads
 *   node scripts/patch-jazzer-glibc.mjs FILE.node  # patch a copy (tests)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const VERSION = '4.0.0';
/** fuzzer-linux-x64.node as in @jazzer.js/fuzzer-4.0.0.tgz, and after this patch. */
const ORIGINAL_SHA256 = '59ffc0d22ea37c5edcf3d8b9b76b1d964940461a9337d0b14068e378e7703ac9';
const PATCHED_SHA256 = 'af28eb8921d902e5c260426e97b645823d273d86e55ffac6cb0128a20504fb8e';

const RENAME = { __isoc23_strtol: 'strtol', __isoc23_strtoul: 'strtoul' };
const WEAKEN = ['GLIBC_2.38', 'GLIBCXX_3.4.32'];
/** The one symbol that may keep a weakened version: it is never relocated. */
const UNRELOCATED = '_ZSt21ios_base_library_initv';

const args = process.argv.slice(2);
const strict = args.includes('--strict');
const fileArg = args.find((a) => !a.startsWith('--'));
const say = (msg) => console.log(`patch-jazzer-glibc: ${msg}`);

/** Ends the script: an error with --strict (or an explicit file), a warning otherwise. */
function giveUp(msg) {
  if (strict || fileArg) {
    console.error(`patch-jazzer-glibc: ERROR: ${msg}`);
    process.exit(1);
  }
  say(`WARNING: ${msg} (coverage-guided fuzzing will not run; npm run fuzz:build says so too)`);
  process.exit(0);
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** Loads the addon in a child process: null if it loads, else the loader's message. */
function loadError(file) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], {
    encoding: 'utf8',
  });
  if (r.status === 0) return null;
  const line = r.stderr.split('\n').find((l) => l.startsWith('Error')) ?? r.stderr.trim();
  return line || `exit ${r.status}`;
}

/**
 * The ELF structures the patch touches, each checked: dynsym, versym,
 * verneed and the rela sections, with the exact shapes they must have.
 */
function parse(b) {
  const fail = (what) => {
    throw new Error(`unexpected ELF layout: ${what}`);
  };
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) fail('not an ELF file');
  if (b[4] !== 2 || b[5] !== 1) fail('not ELF64 little-endian');
  if (b.readUInt16LE(0x12) !== 62) fail('not x86-64');
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  if (shentsize !== 64 || shoff + shnum * 64 > b.length) fail('section headers');
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * 64;
    const s = {
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      size: Number(b.readBigUInt64LE(o + 0x20)),
      link: b.readUInt32LE(o + 0x28),
      entsize: Number(b.readBigUInt64LE(o + 0x38)),
    };
    if (s.type !== 8 /* NOBITS */ && s.offset + s.size > b.length) fail(`section ${i} size`);
    sections.push(s);
  }
  const one = (type, name) => {
    const found = sections.filter((s) => s.type === type);
    if (found.length !== 1) fail(`${found.length} ${name} sections`);
    return found[0];
  };
  const dynsym = one(11, '.dynsym');
  const versym = one(0x6fffffff, '.gnu.version');
  const verneed = one(0x6ffffffe, '.gnu.version_r');
  const dynstr = sections[dynsym.link];
  if (dynstr?.type !== 3 || dynsym.entsize !== 24) fail('.dynsym / .dynstr');
  if (versym.size !== (dynsym.size / 24) * 2) fail('.gnu.version size');
  const str = (off) => {
    if (off >= dynstr.size) fail('string offset');
    const start = dynstr.offset + off;
    const end = b.indexOf(0, start);
    if (end < 0 || end >= dynstr.offset + dynstr.size) fail('unterminated string');
    return b.toString('latin1', start, end);
  };
  // Version needs: [file, version name, aux offset, version index].
  const needs = [];
  for (let vn = verneed.offset, n = 0; ; n++) {
    if (n > 64 || vn + 16 > verneed.offset + verneed.size) fail('.gnu.version_r chain');
    const file = str(b.readUInt32LE(vn + 4));
    let aux = vn + b.readUInt32LE(vn + 8);
    for (let i = 0; i < b.readUInt16LE(vn + 2); i++) {
      if (aux + 16 > verneed.offset + verneed.size) fail('vernaux entry');
      needs.push({ file, name: str(b.readUInt32LE(aux + 8)), aux, index: b.readUInt16LE(aux + 6) });
      aux += b.readUInt32LE(aux + 12);
    }
    const next = b.readUInt32LE(vn + 12);
    if (next === 0) break;
    vn += next;
  }
  const symbols = [];
  for (let i = 0; i < dynsym.size / 24; i++) {
    const o = dynsym.offset + i * 24;
    const nameOff = b.readUInt32LE(o);
    symbols.push({
      i,
      o,
      nameOff,
      name: str(nameOff),
      version: b.readUInt16LE(versym.offset + 2 * i) & 0x7fff,
    });
  }
  // Symbols named by a relocation (SHT_RELA sections that point at .dynsym).
  const relocated = new Set();
  const dynsymIndex = sections.indexOf(dynsym);
  for (const s of sections) {
    if (s.type !== 4 /* RELA */ || s.link !== dynsymIndex) continue;
    for (let o = s.offset; o < s.offset + s.size; o += 24)
      relocated.add(Number(b.readBigUInt64LE(o + 8) >> 32n));
  }
  return { versym, needs, symbols, relocated, str };
}

function patch(b) {
  const { versym, needs, symbols, relocated, str } = parse(b);
  const need = (file, name) => {
    const n = needs.filter((x) => x.file === file && x.name === name);
    if (n.length !== 1) throw new Error(`unexpected ELF layout: ${n.length} ${file} ${name} needs`);
    return n[0];
  };
  const base = need('libc.so.6', 'GLIBC_2.2.5');
  const weak = [need('libc.so.6', WEAKEN[0]), need('libstdc++.so.6', WEAKEN[1])];
  for (const [from, to] of Object.entries(RENAME)) {
    const s = symbols.filter((x) => x.name === from);
    if (s.length !== 1) throw new Error(`unexpected ELF layout: ${s.length} ${from} imports`);
    const cut = from.length - to.length;
    if (str(s[0].nameOff + cut) !== to) throw new Error(`unexpected ELF layout: no "${to}" tail`);
    b.writeUInt32LE(s[0].nameOff + cut, s[0].o);
    b.writeUInt16LE(base.index, versym.offset + 2 * s[0].i);
  }
  for (const w of weak)
    b.writeUInt16LE(b.readUInt16LE(w.aux + 4) | 2 /* VER_FLG_WEAK */, w.aux + 4);
  // Nothing that the loader binds may still need a weakened version.
  for (const s of symbols) {
    if (!weak.some((w) => w.index === s.version)) continue;
    if (s.name in RENAME) continue; // renamed above
    if (s.name !== UNRELOCATED || relocated.has(s.i))
      throw new Error(`unexpected ELF layout: ${s.name} still needs a weakened version`);
  }
}

// ---- main -------------------------------------------------------------------

let file = fileArg;
if (!file) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    say(`nothing to do on ${process.platform}-${process.arch}`);
    process.exit(0);
  }
  let pkg;
  try {
    pkg = createRequire(import.meta.url).resolve('@jazzer.js/fuzzer/package.json');
  } catch {
    if (strict) giveUp('@jazzer.js/fuzzer is not installed (npm ci installs it)');
    say('@jazzer.js/fuzzer is not installed: nothing to do');
    process.exit(0);
  }
  const version = JSON.parse(readFileSync(pkg, 'utf8')).version;
  file = join(dirname(pkg), 'prebuilds', 'fuzzer-linux-x64.node');
  if (!existsSync(file)) giveUp(`${file} not found (@jazzer.js/fuzzer ${version})`);
  const err = loadError(file);
  if (err === null) {
    say(`the addon loads as it is: nothing to do (${file})`);
    process.exit(0);
  }
  if (!/GLIBC_2\.38|GLIBCXX_3\.4\.32/.test(err))
    giveUp(`the addon does not load, and not for the reason this script fixes: ${err}`);
  if (version !== VERSION)
    giveUp(
      `@jazzer.js/fuzzer ${version} needs GLIBC_2.38, but this script knows only ${VERSION}'s prebuild: ${err}`,
    );
}
if (!existsSync(file)) giveUp(`${file} not found`);
const original = readFileSync(file);
const hash = sha256(original);
if (hash === PATCHED_SHA256) {
  if (fileArg) say(`already patched: ${file}`);
  else giveUp(`${file} is already patched but still does not load: ${loadError(file)}`);
  process.exit(0);
}
if (hash !== ORIGINAL_SHA256) {
  giveUp(
    `${file} has SHA-256 ${hash}, not the ${VERSION} prebuild this script knows (${ORIGINAL_SHA256}); not touching it`,
  );
}
const b = Buffer.from(original);
try {
  patch(b);
} catch (e) {
  giveUp(`${file}: ${e.message}`);
}
if (sha256(b) !== PATCHED_SHA256)
  giveUp(`${file}: the patched file has an unexpected SHA-256 ${sha256(b)}; not writing it`);
// Write beside it and rename, so an interrupted run never leaves half a file.
writeFileSync(`${file}.patching`, b);
renameSync(`${file}.patching`, file);
if (!fileArg) {
  const err = loadError(file);
  if (err !== null) {
    writeFileSync(file, original);
    giveUp(`patched, but it still does not load (${err}); the original is back`);
  }
}
say(`patched ${file} (strtol/strtoul@GLIBC_2.2.5, GLIBC_2.38 and GLIBCXX_3.4.32 needs weak)`);
