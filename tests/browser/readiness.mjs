// readiness.mjs: the operator's side of a test run in the console
// (Debian's Chromium, headless, through playwright-core), against a
// bridge without accounts (loopback) whose room has a test window open.
// Called by tests/integ/t_ready_window.sh.
//
// Usage: node readiness.mjs URL ROOM OUTDIR
// Checks, one TAP line each: the test-run panel says a run is open and
// offers "Declare the test complete"; the roster shows each connected
// expected site's check state; clicking the button declares the test
// complete (the panel says so, the button goes) and the report link
// points at the room's report. Screenshot test-run.png in OUTDIR.
// Exit 0 if every check passed, 1 if not, 2 on a setup error; capped at
// 60 s.
//
// Env: CHROMIUM (default /usr/bin/chromium).
import { mkdirSync } from 'node:fs';
import { tap, cap, launch } from './tap.mjs';

const [url, room, outDir] = process.argv.slice(2);
if (!url || !room || !outDir) {
	console.error('usage: node readiness.mjs URL ROOM OUTDIR');
	process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const { check, failed } = tap();
const capTimer = cap(60000, 'the readiness console test');

let browser;
try {
	browser = await launch();
	const ctx = await browser.newContext({
		viewport: { width: 1280, height: 900 }, locale: 'en-US' });
	const page = await ctx.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	await page.goto(`${url}#room=${encodeURIComponent(room)}`,
			{ timeout: 10000 });
	await page.waitForFunction(() => /until/.test(
		document.querySelector('#test-state')?.textContent || ''),
		null, { timeout: 10000 }).catch(() => {});
	const stateText = await page.textContent('#test-state');
	check(/Test run until/.test(stateText), 'panel: a test run is open',
	      stateText);
	check(await page.isVisible('#btn-test-complete'),
	      'panel: "Declare the test complete" offered');
	const checks = await page.$$eval('#roster li[data-expected] .rk',
		(els) => els.map((e) => e.textContent.trim()));
	check(checks.length >= 3 && checks.every((c) => c.length > 0),
	      `roster: check states shown (${checks.join(' | ')})`);
	const [resp] = await Promise.all([
		page.waitForResponse((r) => r.url().includes('/test?') &&
				     r.request().method() === 'POST',
				     { timeout: 10000 }),
		page.click('#btn-test-complete'),
	]);
	check(resp.status() === 200, `complete sent (${resp.status()})`);
	await page.waitForFunction(() => /complete/.test(
		document.querySelector('#test-state')?.textContent || ''),
		null, { timeout: 5000 }).catch(() => {});
	const after = await page.textContent('#test-state');
	check(/declared complete/.test(after), 'panel: declared complete',
	      after);
	check(!(await page.isVisible('#btn-test-complete')),
	      'panel: the button is gone');
	const href = await page.getAttribute('#test-report', 'href');
	check(href && href.endsWith(`/rooms/${room}/test/report.html`) ||
	      href.endsWith(`/rooms/${room}/test/report.vi.html`),
	      'panel: report link', href);
	await page.screenshot({ path: `${outDir}/test-run.png` });
	check(errors.length === 0, 'no script errors', errors.join('; '));
} catch (e) {
	check(false, 'the readiness console test ran',
	      String(e).split('\n')[0]);
} finally {
	clearTimeout(capTimer);
	if (browser)
		await browser.close();
}
process.exit(failed() ? 1 : 0);
