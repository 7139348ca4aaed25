// console.mjs: drives the operator console in Debian's Chromium
// (headless, through playwright-core; no browser download) against a
// running bridge. Called by tests/integ/t_console_browser.sh.
//
// Usage: node console.mjs URL OUTDIR TALKER_ID SILENT_ID
//            [USER:PASSWORD VIEWER:PASSWORD]
//   URL        the console, e.g. http://127.0.0.1:18080/
//   OUTDIR     where console.png (1280x800, English), console-vi.png
//              and, on failure, console-fail.png go
//   TALKER_ID  the site that speaks (e.g. s2), SILENT_ID the one that
//              does not
//   USER:PASSWORD  log in with the page's form as this operator;
//   VIEWER:PASSWORD  a viewer, who must see no controls and get 403
//
// Checks, each printed as "ok - ..." (TAP lines for the shell test):
// the page logs in, shows both site rows and the roster, the stream is
// live; over 3 s the talker's meter (data-level) goes above -40 dBFS and
// varies while the silent site's stays below -60; the talker is marked
// talking; a bookmark typed in the page is acknowledged; mute on the
// talker is sent and shown. Prints "mute_ms=EPOCH_MS" (when the bridge
// answered the mute) for the shell's check of what the silent site
// hears. Exit status 0 if every check passed, 1 if not, 2 on a setup
// error. Every wait is bounded; the whole run is capped at 60 s.
//
// Env: CHROMIUM (default /usr/bin/chromium).
import { mkdirSync } from 'node:fs';
import { tap, cap, launch } from './tap.mjs';

const [url, outDir, talker, silent, opCred, viewerCred] =
	process.argv.slice(2);
if (!url || !outDir || !talker || !silent) {
	console.error('usage: node console.mjs URL OUTDIR TALKER_ID SILENT_ID ' +
		      '[USER:PASSWORD VIEWER:PASSWORD]');
	process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const { ok, notOk, check, note, failed } = tap();
const capTimer = cap(60000, 'the browser test');

let browser;
let page;

async function login(pg, cred) {
	const i = cred.indexOf(':');
	await pg.waitForSelector('#login:not([hidden])', { timeout: 10000 });
	await pg.fill('#login-user', cred.slice(0, i));
	await pg.fill('#login-pass', cred.slice(i + 1));
	await Promise.all([
		pg.waitForResponse((r) => r.url().endsWith('/api/login'),
				   { timeout: 10000 }),
		pg.click('#login-form button[type=submit]'),
	]);
	await pg.waitForSelector('#login', { state: 'hidden', timeout: 10000 });
}

// The meter levels (data-level, dBFS) of the given sites right now.
const levels = (pg, ids) => pg.evaluate((ids) => ids.map((id) => {
	const el = document.querySelector(`[data-site="${id}"] .meter-fill`);
	return el ? Number(el.dataset.level) : NaN;
}), ids);

async function main() {
	browser = await launch();
	const ctx = await browser.newContext({
		viewport: { width: 1280, height: 800 },
		locale: 'en-US',
	});
	page = await ctx.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	page.on('console', (m) => {
		/* the login page's first api/me is a 401 by design */
		if (m.type() === 'error' && !/status of 401/.test(m.text()))
			note(`page console: ${m.text()}`);
	});
	await page.goto(url, { timeout: 10000 });

	if (opCred) {
		await login(page, opCred);
		ok('operator logs in with the page\'s form');
	}
	const row = (id) => `[data-site="${id}"]`;
	try {
		// attached, not visible: a silent meter has no width
		await page.waitForSelector(`${row(talker)} .meter-fill`,
					   { state: 'attached', timeout: 10000 });
		await page.waitForSelector(`${row(silent)} .meter-fill`,
					   { state: 'attached', timeout: 5000 });
		ok(`both site rows shown (${talker}, ${silent})`);
	} catch (e) {
		notOk(`both site rows shown within 10 s (${e.message.split('\n')[0]})`);
		return;
	}
	try {
		await page.waitForSelector('#conn[data-state="live"]',
					   { timeout: 5000 });
		ok('live stream connected (indicator)');
	} catch (e) {
		notOk('live stream connected within 5 s');
	}
	const roster = await page.$$eval('[data-expected]', (els) =>
		els.map((e) => `${e.dataset.expected}=${e.dataset.state}`));
	note(`roster: ${roster.join(', ')}`);
	check(roster.length >= 3 && roster.some((r) => r.endsWith('=missing')) &&
	      roster.filter((r) => r.endsWith('=connected')).length >= 2,
	      'roster: the two sites connected, the absent one missing',
	      roster.join(', '));

	// meters for 3 s
	const tk = [], sl = [];
	let talking = false;
	const t0 = Date.now();
	while (Date.now() - t0 < 3000) {
		const [a, b] = await levels(page, [talker, silent]);
		tk.push(a);
		sl.push(b);
		talking ||= await page.$eval(row(talker), (e) =>
			e.classList.contains('talking'));
		await page.waitForTimeout(100);
	}
	const max = (v) => Math.max(...v.filter(Number.isFinite));
	const distinct = new Set(tk.map((x) => x.toFixed(1))).size;
	note(`talker levels: ${tk.map((x) => x.toFixed(0)).join(' ')}`);
	note(`silent levels: ${sl.map((x) => x.toFixed(0)).join(' ')}`);
	check(max(tk) > -40, `talker's meter reads speech (max ${max(tk)} > -40 dBFS)`);
	check(distinct >= 5, `talker's meter moves (${distinct} distinct values of ${tk.length} samples)`);
	check(sl.length > 0 && max(sl) < -60,
	      `silent site's meter stays low (max ${max(sl)} < -60 dBFS)`);
	check(talking, 'talker\'s row marked talking');

	// a bookmark from the page
	const mark = 'Vote on item 2';
	try {
		await page.fill('#bookmark-text', mark);
		await Promise.all([
			page.waitForResponse((r) => r.url().includes('bookmark='),
					     { timeout: 5000 }),
			page.click('#bookmark-form button[type=submit]'),
		]);
		await page.waitForFunction((m) => document.getElementById('marks')
			.textContent.includes(m), mark, { timeout: 3000 });
		ok('bookmark sent from the page and listed');
	} catch (e) {
		notOk(`bookmark sent from the page and listed (${e.message.split('\n')[0]})`);
	}

	// mute the talker
	const muteBtn = `${row(talker)} .btn-mute`;
	const clickMs = Date.now();
	let muteMs = 0;
	try {
		const [resp] = await Promise.all([
			page.waitForResponse((r) => r.url().includes(`/sites/${talker}?mute=on`),
					     { timeout: 5000 }),
			page.click(muteBtn, { timeout: 5000 }),
		]);
		muteMs = Date.now();
		check(resp.status() === 200, `mute answered 200 (${resp.status()})`);
	} catch (e) {
		notOk(`mute sent (${e.message.split('\n')[0]})`);
	}
	console.log(`click_ms=${clickMs}`);
	console.log(`mute_ms=${muteMs || clickMs}`);
	try {
		await page.waitForSelector(`${muteBtn}[aria-pressed="true"]`,
					   { timeout: 3000 });
		ok('mute button shows the site muted');
	} catch (e) {
		notOk('mute button shows the site muted within 3 s');
	}
	await page.waitForTimeout(1500);
	await page.screenshot({ path: `${outDir}/console.png` });

	// the same page in Vietnamese (the language toggle)
	await page.click('#lang');
	const label = await page.$eval(muteBtn, (e) => e.textContent.trim());
	check(label === 'Tắt tiếng', `language toggle: mute reads "${label}"`);
	await page.screenshot({ path: `${outDir}/console-vi.png` });
	check(errors.length === 0, 'no script errors in the page', errors.join('; '));

	if (viewerCred) {
		const vctx = await browser.newContext({
			viewport: { width: 1280, height: 800 }, locale: 'en-US' });
		const vp = await vctx.newPage();
		await vp.goto(url, { timeout: 10000 });
		await login(vp, viewerCred);
		await vp.waitForSelector(`${row(talker)} .meter-fill`,
					 { state: 'attached', timeout: 10000 });
		const shown = await vp.isVisible(`${row(talker)} .btn-mute`);
		check(!shown, 'viewer: no mute button shown');
		const status = await vp.evaluate(async (sid) => {
			const room = new URLSearchParams(location.hash.slice(1))
				.get('room');
			return (await fetch(`api/rooms/${room}/sites/${sid}?mute=on`, {
				method: 'POST',
				headers: { 'X-Requested-With': 'lowbridge' },
			})).status;
		}, silent);
		check(status === 403, `viewer: mute refused (${status}, want 403)`);
		await vctx.close();
	}
}

try {
	await main();
} catch (e) {
	notOk(`browser test ran (${e.message.split('\n')[0]})`);
}
if (failed() && page)
	await page.screenshot({ path: `${outDir}/console-fail.png` }).catch(() => {});
if (browser)
	await browser.close().catch(() => {});
clearTimeout(capTimer);
process.exit(failed() ? 1 : 0);
