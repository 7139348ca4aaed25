// tap.mjs: what the browser tests share: TAP lines for the shell test
// that runs them ("ok - ...", "not ok - ...", "# ..."), a cap on the
// whole run, and Debian's Chromium launched headless through
// playwright-core (no browser download).
//
// Env: CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';

export function tap() {
	let failed = 0;
	const ok = (what) => console.log(`ok - ${what}`);
	const notOk = (what) => {
		failed++;
		console.log(`not ok - ${what}`);
	};
	return {
		ok,
		notOk,
		check: (cond, what, why) => (cond ? ok(what) :
			notOk(`${what}${why ? ` (${why})` : ''}`)),
		note: (s) => console.log(`# ${s}`),
		failed: () => failed,
	};
}

// Exit 1 with a TAP line if the run takes longer than ms.
export function cap(ms, what) {
	return setTimeout(() => {
		console.log(`not ok - ${what} finished within ${ms / 1000} s`);
		process.exit(1);
	}, ms);
}

export function launch() {
	return chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
		timeout: 20000,
	});
}
