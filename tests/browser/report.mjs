// report.mjs: renders a readiness report (report.html as the bridge
// serves it, or as the recorder kept it) in Debian's Chromium, headless,
// through playwright-core, and checks what a district officer reads on
// it. Called by tests/integ/t_ready_window.sh.
//
// Usage: node report.mjs URL OUTDIR EXPECT.json
//   URL          the report, http://... or file://...
//   OUTDIR       report.png (A4 width) and report.pdf go here
//   EXPECT.json  {"summary": "text the summary line holds",
//                 "rows": [{"site": NAME, "result": "PASS"|"FAIL",
//                           "problem": "text in its Problems cell"|""}]}
// Checks, one TAP line each: the page loads with its title, the summary
// line holds the expected text, the table has exactly the expected
// rows, each with its result and problem text and the row class that
// colours it, no text overflows the page width, and it prints to PDF.
// Exit 0 if every check passed, 1 if not, 2 on a setup error; capped at
// 60 s.
//
// Env: CHROMIUM (default /usr/bin/chromium).
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { tap, cap, launch } from './tap.mjs';

const [url, outDir, expectFile] = process.argv.slice(2);
if (!url || !outDir || !expectFile) {
	console.error('usage: node report.mjs URL OUTDIR EXPECT.json');
	process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const want = JSON.parse(readFileSync(expectFile, 'utf8'));

const { check, failed } = tap();
const capTimer = cap(60000, 'the report test');

let browser;
try {
	browser = await launch();
	const page = await browser.newPage({ viewport: { width: 1123,
							   height: 794 } });
	const resp = await page.goto(url, { timeout: 10000 });
	check(!resp || resp.ok(), 'the report loads',
	      resp ? `HTTP ${resp.status()}` : '');
	const title = await page.title();
	check(title.startsWith('Readiness report'), 'its title', title);
	const summary = await page.textContent('#summary');
	check(summary && summary.includes(want.summary),
	      `summary says "${want.summary}"`, summary);
	const rows = await page.$$eval('#sites tbody tr', (trs) => trs.map(
		(tr) => ({
			cls: tr.className,
			site: tr.cells[0].textContent.trim(),
			result: tr.querySelector('.verdict').textContent.trim(),
			why: tr.querySelector('.why').textContent.trim(),
		})));
	check(rows.length === want.rows.length,
	      `${want.rows.length} site rows`, `found ${rows.length}`);
	for (const w of want.rows) {
		const r = rows.find((x) => x.site === w.site);
		check(r && r.result === w.result,
		      `${w.site}: ${w.result}`, r ? r.result : 'no row');
		check(r && r.cls === w.result.toLowerCase(),
		      `${w.site}: row class ${w.result.toLowerCase()}`,
		      r ? r.cls : 'no row');
		if (w.problem !== undefined)
			check(r && (w.problem === '' ? r.why === '' :
				    r.why.includes(w.problem)),
			      `${w.site}: problems "${w.problem}"`,
			      r ? r.why : 'no row');
	}
	const overflow = await page.evaluate(() =>
		document.documentElement.scrollWidth >
		document.documentElement.clientWidth + 1);
	check(!overflow, 'nothing wider than an A4 landscape page');
	await page.screenshot({ path: `${outDir}/report.png`, fullPage: true });
	await page.pdf({ path: `${outDir}/report.pdf`, format: 'A4',
			 landscape: true });
	check(statSync(`${outDir}/report.pdf`).size > 1000, 'it prints to PDF');
} catch (e) {
	check(false, 'the report test ran', String(e).split('\n')[0]);
} finally {
	clearTimeout(capTimer);
	if (browser)
		await browser.close();
}
process.exit(failed() ? 1 : 0);
