// Every relative link in the Markdown docs (README.md, CONTRIBUTING.md, CHANGELOG.md, docs/**/*.md) must point
// at a file that is in the repository, and every #anchor at a heading of that file, as GitHub renders it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/service-process.js';

/** Tracked and untracked-but-not-ignored files: what a commit of this tree would hold (no node_modules). */
const repoFiles = new Set(
  execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean),
);
const repoDirs = new Set(
  [...repoFiles].flatMap((f) =>
    f
      .split('/')
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
  ),
);
const docs = [...repoFiles]
  .filter(
    (f) => ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md'].includes(f) || (f.startsWith('docs/') && f.endsWith('.md')),
  )
  .sort();

/** The text of a Markdown file without fenced code blocks and inline code, where brackets are not links. */
function prose(md: string): string {
  return md.replace(/^( {0,3})(```|~~~)[^\n]*\n[\s\S]*?^\1\2[^\n]*$/gm, '').replace(/`+[^`\n]*`+/g, '');
}

/** GitHub's heading ids (github-slugger): lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(md: string): Set<string> {
  const seen = new Map<string, number>();
  const ids = new Set<string>();
  const withoutFences = md.replace(/^( {0,3})(```|~~~)[^\n]*\n[\s\S]*?^\1\2[^\n]*$/gm, '');
  for (const [, text = ''] of withoutFences.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const plain = text
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/[`*]/g, '');
    const base = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const [, id = ''] of md.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) ids.add(id);
  return ids;
}

interface Link {
  from: string;
  target: string;
}

function linksIn(file: string, md: string): Link[] {
  const text = prose(md);
  const links: Link[] = [];
  for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
    links.push({ from: file, target: m[1]! });
  for (const m of text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm))
    links.push({ from: file, target: m[1]! });
  for (const m of text.matchAll(/<(?:a|img)\s[^>]*(?:href|src)="([^"]+)"/g)) links.push({ from: file, target: m[1]! });
  return links.filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l.target));
}

/** Why a link does not resolve, or undefined when it does. */
function brokenBecause({ from, target }: Link): string | undefined {
  const [rawPath = '', anchor] = target.split('#', 2) as [string, string | undefined];
  const path = decodeURIComponent(rawPath);
  const resolved =
    path === ''
      ? from
      : normalize(join(dirname(from), path))
          .replace(/\\/g, '/')
          .replace(/\/$/, '');
  if (resolved.startsWith('..') || relative(REPO_ROOT, join(REPO_ROOT, resolved)).startsWith('..')) {
    return 'points outside the repository';
  }
  const isFile = repoFiles.has(resolved);
  if (!isFile && !repoDirs.has(resolved)) return `${resolved} is not in the repository`;
  if (anchor === undefined) return undefined;
  if (!isFile || !resolved.endsWith('.md')) return `#${anchor} on ${resolved}, which is not a Markdown file`;
  const ids = anchorsOf(readFileSync(join(REPO_ROOT, resolved), 'utf8'));
  return ids.has(decodeURIComponent(anchor)) ? undefined : `${resolved} has no heading #${anchor}`;
}

describe('documentation links', () => {
  it('finds the README and the docs site', () => {
    expect(docs).toContain('README.md');
    expect(docs).toContain('docs/index.md');
  });

  it('every relative link and anchor resolves inside the repository', () => {
    const broken = docs
      .flatMap((file) => linksIn(file, readFileSync(join(REPO_ROOT, file), 'utf8')))
      .map((link) => ({ link, why: brokenBecause(link) }))
      .filter(({ why }) => why !== undefined)
      .map(({ link, why }) => `${link.from}: (${link.target}) ${why}`);
    expect(broken).toEqual([]);
  });

  it('code, config and docs cite only files that are in the repository', () => {
    // Built from parts so that this file does not match itself.
    const outside = new RegExp(
      `\\b(?:${['CONTRACT', 'DEVICES', 'ARCHITECTURE', 'STYLE'].join('|')})\\.md\\b|\\.\\./shared\\b`,
    );
    const cited = /\bdocs\/[\w./-]+\.(?:md|json)\b/g;
    const text = [...repoFiles].filter(
      (f) => /\.(?:ts|js|mjs|md|json|conf|acl|ya?ml)$|(?:^|\/)Dockerfile$/.test(f) && f !== 'package-lock.json',
    );
    const problems: string[] = [];
    for (const file of text) {
      const body = readFileSync(join(REPO_ROOT, file), 'utf8');
      if (outside.test(body))
        problems.push(`${file}: cites a file outside the repository (${body.match(outside)![0]})`);
      for (const [path] of body.matchAll(cited)) {
        if (!repoFiles.has(path)) problems.push(`${file}: cites ${path}, which is not in the repository`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every file the docs name in code spans (`src/…`, `test/…`, `x.test.ts`) is in the repository', () => {
    const problems: string[] = [];
    for (const file of docs) {
      const spans = [...readFileSync(join(REPO_ROOT, file), 'utf8').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
      for (const span of spans) {
        // A path under dist/ is build output (named by its source), not a file of the repository.
        for (const [path] of span.matchAll(
          /(?<![\w./-])(?:src|test|workers|scripts|bench|config)\/[\w./-]*\.[a-z]+\b/g,
        )) {
          if (!repoFiles.has(path)) problems.push(`${file}: names ${path}, which is not in the repository`);
        }
        const bare = /^([\w-]+\.test\.ts)$/.exec(span)?.[1];
        if (bare && ![...repoFiles].some((f) => f.endsWith(`/${bare}`)))
          problems.push(`${file}: names ${bare}, which no test file is`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('computes heading anchors the way GitHub does', () => {
    const ids = anchorsOf(
      [
        '# Heat pads',
        '## 1. A person',
        '### `UNKNOT_TIME_SCALE` and demos',
        '## Security and operations',
        '## Security and operations',
        '## What goes on the wire?',
        '```sh',
        '# not a heading',
        '```',
      ].join('\n'),
    );
    expect([...ids]).toEqual([
      'heat-pads',
      '1-a-person',
      'unknot_time_scale-and-demos',
      'security-and-operations',
      'security-and-operations-1',
      'what-goes-on-the-wire',
    ]);
  });

  it('reports a link to a missing file and to a missing heading', () => {
    const page = docs.find((d) => d === 'docs/index.md')!;
    expect(brokenBecause({ from: page, target: 'no-such-page.md' })).toMatch(/not in the repository/);
    expect(brokenBecause({ from: page, target: 'configuration.md#no-such-heading' })).toMatch(/no heading/);
    expect(brokenBecause({ from: page, target: 'configuration.md#environment-variables' })).toBeUndefined();
    expect(brokenBecause({ from: page, target: '../../outside.md' })).toMatch(/outside/);
  });
});
