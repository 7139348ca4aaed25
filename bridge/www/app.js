/*
 * lowbridge operator console (plain ES2020, no framework, no network
 * but the bridge).
 *
 * Data flow: GET api/rooms/ID gives the room (sites, roster, alarms,
 * switches); the live stream api/rooms/ID/live (Server-Sent Events) gives
 * every site's meters ten times a second and join/leave/talk/alarm/
 * bookmark as they happen; a join or leave refetches the room. Commands
 * are POSTs with the value in the query string.
 *
 * Drawing: a levels event only stores numbers; one requestAnimationFrame
 * pass smooths the meters, moves them with transforms and writes an
 * attribute or text only when its value changed, and skips rows that are
 * off screen (IntersectionObserver), so hundreds of sites at 10 Hz cost
 * little.
 *
 * Test hooks (keep them stable): site rows [data-site=ID] (.talking when
 * selected into the mix), .meter-fill[data-level=dBFS], .btn-mute,
 * .btn-deaf, .btn-kick; roster rows [data-expected=NAME][data-state].
 */
'use strict';
(() => {
	const METER_MIN_DB = -60;       /* left end of the meters */
	const CLIP_DB = -0.5;           /* input peak at or above: clipped */
	const CLIP_HOLD_MS = 2000;
	const PEAK_HOLD_MS = 1500;
	const PEAK_FALL_DB_S = 20;
	const ATTACK_MS = 25, RELEASE_MS = 300;
	const GAIN_STEP_DB = 3, GAIN_MIN_DB = -20, GAIN_MAX_DB = 20;
	const STALE_MS = 3000;          /* no event for this long: stale */
	const DEAD_MS = 8000;           /* ... and this long: reconnect */
	const ROOM_POLL_MS = 10000;

	const $ = (id) => document.getElementById(id);

	/* ---- words ------------------------------------------------------ */
	const WORDS = {
		vi: {
			room: 'Phòng', tab_live: 'Cuộc họp', recordings: 'Ghi âm',
			logout: 'Đăng xuất', sites: 'Điểm cầu',
			col_site: 'Điểm cầu', col_level: 'Mức tiếng vào',
			col_quality: 'Chất lượng', col_ctl: 'Điều khiển',
			agc_short: 'AGC', echo_short: 'Vọng',
			filter_ph: 'Tìm điểm cầu…',
			no_sites: 'Chưa có điểm cầu nào kết nối.',
			alarms: 'Cảnh báo', no_alarms: 'Không có cảnh báo.',
			roster: 'Danh sách điểm cầu',
			test_run: 'Chạy thử', test_open: 'Bắt đầu chạy thử',
			test_complete: 'Kết thúc chạy thử',
			test_close: 'Đóng và lưu báo cáo', test_report: 'Báo cáo',
			test_none: 'Chưa có buổi chạy thử.',
			test_open_until: 'Đang chạy thử đến {t} · đạt {p}/{n}',
			test_declared: 'Đã kết thúc chạy thử · đạt {p}/{n}',
			test_closed: 'Buổi chạy thử gần nhất: đạt {p}/{n}',
			test_close_q: 'Đóng buổi chạy thử và lưu báo cáo?',
			test_close_yes: 'Đóng',
			no_roster: 'Phòng này không có danh sách điểm cầu.',
			bookmarks: 'Đánh dấu', bookmark: 'Đánh dấu',
			bookmark_ph: 'Ghi chú (vd. Biểu quyết mục 2)',
			talking: 'Đang nói', nobody: 'Không ai đang nói',
			refresh: 'Làm mới', rec_start: 'Bắt đầu',
			rec_len: 'Độ dài', rec_state: 'Trạng thái',
			no_recordings: 'Chưa có bản ghi nào.',
			rec_track: 'Nghe', rec_mix: 'Toàn cuộc họp',
			rec_hint: 'Bấm vào một lượt nói để nghe từ đó.',
			rec_turns: 'Lượt nói', rec_recording: 'Đang ghi',
			rec_closed: 'Đã xong', rec_repaired: 'Đã sửa',
			login_title: 'Đăng nhập để điều hành cuộc họp',
			user: 'Tên đăng nhập', password: 'Mật khẩu',
			login: 'Đăng nhập', cancel: 'Huỷ',
			login_bad: 'Sai tên đăng nhập hoặc mật khẩu.',
			login_limited: 'Thử sai quá nhiều lần. Hãy đợi một lúc rồi thử lại.',
			conn_live: 'Đã kết nối', conn_connecting: 'Đang kết nối lại…',
			conn_stale: 'Mất tín hiệu…', conn_off: 'Mất kết nối',
			operator: 'Điều hành', viewer: 'Chỉ xem',
			missing: 'Vắng mặt', connected: 'Đã kết nối',
			late: 'Đến muộn', left: 'Đã rời', unknown: 'Người gọi lạ',
			all: 'Tất cả',
			mute: 'Tắt tiếng', deaf: 'Tắt nghe', kick: 'Ngắt',
			mute_tip: 'Tắt micro của điểm cầu (họ vẫn nghe cuộc họp)',
			unmute_tip: 'Đang tắt tiếng. Bấm để bật lại micro',
			deaf_tip: 'Điểm cầu không nghe cuộc họp',
			undeaf_tip: 'Đang tắt nghe. Bấm để cho nghe lại',
			kick_tip: 'Ngắt kết nối điểm cầu này',
			gain_in_tip: 'Âm lượng micro của điểm cầu (dB)',
			gain_out_tip: 'Âm lượng điểm cầu nghe được (dB)',
			kick_q: 'Ngắt kết nối “{name}”? Họ có thể gọi lại.',
			kick_yes: 'Ngắt kết nối',
			rec_stop_q: 'Dừng ghi âm cuộc họp?', rec_stop_yes: 'Dừng ghi',
			lock: 'Khoá phòng', unlock: 'Mở khoá phòng',
			mute_all: 'Tắt tiếng tất cả', unmute_all: 'Bật tiếng tất cả',
			record: 'Ghi âm', stop_record: 'Dừng ghi âm',
			locked_banner: 'Phòng đã khoá: không nhận thêm người gọi.',
			muteall_banner: 'Tất cả điểm cầu đang tắt tiếng (trừ chủ toạ).',
			rec_on: 'Đang ghi âm {t}', rec_off: 'Không ghi âm',
			rec_na: 'Ghi âm không khả dụng',
			stat_connected: 'Đã kết nối',
			chair: 'Chủ toạ', hold: 'Giữ máy',
			bookmarked: 'Đã đánh dấu: {text}',
			bookmark_by: 'Đánh dấu của {by}: {text}',
			joined: '{name} đã vào', left_ev: '{name} đã rời',
			forbidden: 'Tài khoản này chỉ được xem, không được điều khiển.',
			err_network: 'Không liên lạc được với cầu.',
			err: 'Lỗi: {msg}',
			joined_at: 'vào phút {m}', left_ago: 'rời {m} phút trước',
			voice: 'Có tiếng nói', agc_tip: 'Bộ tự chỉnh âm lượng (AGC) đang thêm/bớt',
			echo_tip: 'Mức tiếng vọng (0 = không có)',
			link_tip: 'Mất gói {loss} %, độ trễ dao động {jit} ms',
			k_clipping: 'Quá to', k_echo: 'Vọng', k_loss: 'Mất gói',
			k_silent: 'Im lặng', k_missing: 'Vắng mặt', k_recorder: 'Ghi âm',
			a_clipping: '{name}: tiếng quá to, bị méo (giảm độ nhạy micro).',
			a_echo: '{name}: tiếng vọng mạnh (giảm loa hoặc bật khử vọng).',
			a_loss: '{name}: mất {pct} % gói tin (đường truyền kém).',
			a_silent: '{name}: không có tiếng (micro tắt hoặc hỏng?).',
			a_missing: '{name} chưa kết nối ({contact} {phone}).',
			a_recorder: 'Ghi âm: {text}',
			d_codec: 'Mã hoá', d_remote: 'Địa chỉ', d_uri: 'SIP',
			local_room: 'Phòng họp tại chỗ', where_hardware: 'phần cứng',
			dsp_unit: 'Bộ xử lý DSP, kênh',
			where_software: 'phần mềm', where_off: 'tắt',
			d_since: 'Đã kết nối', d_packets: 'Gói vào/ra',
			d_rtt: 'RTT', d_sent: 'Mức gửi đi', d_out: 'Mức sau xử lý',
			d_erle: 'Khử vọng (ERLE)'
		},
		en: {
			room: 'Room', tab_live: 'Meeting', recordings: 'Recordings',
			logout: 'Log out', sites: 'Sites',
			col_site: 'Site', col_level: 'Input level',
			col_quality: 'Quality', col_ctl: 'Controls',
			agc_short: 'AGC', echo_short: 'Echo', filter_ph: 'Find a site…',
			no_sites: 'No site is connected yet.',
			alarms: 'Alarms', no_alarms: 'No alarms.',
			roster: 'Expected sites',
			test_run: 'Test run', test_open: 'Start a test run',
			test_complete: 'Declare the test complete',
			test_close: 'Close and keep the report',
			test_report: 'Report',
			test_none: 'No test run yet.',
			test_open_until: 'Test run until {t} · passed {p}/{n}',
			test_declared: 'Test declared complete · passed {p}/{n}',
			test_closed: 'Last test run: passed {p}/{n}',
			test_close_q: 'Close the test run and keep its report?',
			test_close_yes: 'Close',
			no_roster: 'This room has no list of expected sites.',
			bookmarks: 'Bookmarks', bookmark: 'Bookmark',
			bookmark_ph: 'Note (e.g. Vote on item 2)',
			talking: 'Talking', nobody: 'Nobody is talking',
			refresh: 'Refresh', rec_start: 'Start', rec_len: 'Length',
			rec_state: 'State', no_recordings: 'No recordings yet.',
			rec_track: 'Listen to', rec_mix: 'Whole meeting',
			rec_hint: 'Click a talk turn to listen from there.',
			rec_turns: 'Talk turns', rec_recording: 'Recording',
			rec_closed: 'Done', rec_repaired: 'Repaired',
			login_title: 'Log in to run the meeting',
			user: 'User name', password: 'Password', login: 'Log in',
			cancel: 'Cancel',
			login_bad: 'Wrong user name or password.',
			login_limited: 'Too many failed tries. Wait a moment and try again.',
			conn_live: 'Connected', conn_connecting: 'Reconnecting…',
			conn_stale: 'No signal…', conn_off: 'Disconnected',
			operator: 'Operator', viewer: 'Viewer',
			missing: 'Missing', connected: 'Connected', late: 'Late',
			left: 'Left', unknown: 'Unknown caller', all: 'All',
			mute: 'Mute', deaf: 'Deafen', kick: 'Kick',
			mute_tip: 'Mute this site’s microphone (it still hears the meeting)',
			unmute_tip: 'Muted. Click to unmute',
			deaf_tip: 'The site stops hearing the meeting',
			undeaf_tip: 'Deafened. Click to let it hear again',
			kick_tip: 'Disconnect this site',
			gain_in_tip: 'Volume of the site’s microphone (dB)',
			gain_out_tip: 'Volume the site hears (dB)',
			kick_q: 'Disconnect “{name}”? It can call again.',
			kick_yes: 'Disconnect',
			rec_stop_q: 'Stop recording the meeting?', rec_stop_yes: 'Stop',
			lock: 'Lock room', unlock: 'Unlock room',
			mute_all: 'Mute all', unmute_all: 'Unmute all',
			record: 'Record', stop_record: 'Stop recording',
			locked_banner: 'The room is locked: no new callers.',
			muteall_banner: 'All sites are muted (except the chair).',
			rec_on: 'Recording {t}', rec_off: 'Not recording',
			rec_na: 'Recording unavailable',
			stat_connected: 'Connected',
			chair: 'Chair', hold: 'On hold',
			bookmarked: 'Bookmarked: {text}',
			bookmark_by: 'Bookmark by {by}: {text}',
			joined: '{name} joined', left_ev: '{name} left',
			forbidden: 'This account may watch but not give commands.',
			err_network: 'Cannot reach the bridge.', err: 'Error: {msg}',
			joined_at: 'joined at minute {m}', left_ago: 'left {m} min ago',
			voice: 'Voice', agc_tip: 'Automatic gain control adds/removes',
			echo_tip: 'Echo level (0 = none)',
			link_tip: 'Packet loss {loss} %, jitter {jit} ms',
			k_clipping: 'Clipping', k_echo: 'Echo', k_loss: 'Loss',
			k_silent: 'Silent', k_missing: 'Missing', k_recorder: 'Recorder',
			a_clipping: '{name}: clipping (too loud: lower its microphone gain).',
			a_echo: '{name}: strong echo (lower its loudspeaker or turn on echo control).',
			a_loss: '{name}: {pct} % of its packets lost (poor line).',
			a_silent: '{name}: no sound at all (microphone off or broken?).',
			a_missing: '{name} has not connected ({contact} {phone}).',
			a_recorder: 'Recorder: {text}',
			d_codec: 'Codec', d_remote: 'Address', d_uri: 'SIP',
			local_room: 'Local room', where_hardware: 'hardware',
			dsp_unit: 'DSP unit channel',
			where_software: 'software', where_off: 'off',
			d_since: 'Connected for', d_packets: 'Packets in/out',
			d_rtt: 'RTT', d_sent: 'Level sent', d_out: 'Level after processing',
			d_erle: 'Echo reduction (ERLE)'
		}
	};
	let lang = localStorage.getItem('lb.lang') ||
		((navigator.language || '').toLowerCase().startsWith('vi') ?
		 'vi' : 'en');
	if (!WORDS[lang])
		lang = 'en';

	function t(key, vars) {
		let s = WORDS[lang][key] ?? WORDS.en[key] ?? key;
		if (vars)
			s = s.replace(/\{(\w+)\}/g, (m, k) => vars[k] ?? '');
		return s;
	}

	const ESC = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;',
		     "'": '&#39;'};
	const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

	/* Icons: simple strokes drawn for this page. */
	const ICON = {
		mic: '<rect x="9" y="3" width="6" height="11" rx="3"/>' +
			'<path d="M5 11a7 7 0 0 0 14 0M12 18v3"/>',
		micoff: '<rect x="9" y="3" width="6" height="11" rx="3"/>' +
			'<path d="M5 11a7 7 0 0 0 14 0M12 18v3M4 3l16 18"/>',
		spk: '<path d="M4 9h4l5-4v14l-5-4H4z"/>' +
			'<path d="M16.5 9a4 4 0 0 1 0 6"/>',
		spkoff: '<path d="M4 9h4l5-4v14l-5-4H4z"/>' +
			'<path d="M16 9l5 6M21 9l-5 6"/>',
		kick: '<path d="M6 6l12 12M18 6L6 18"/>',
		lock: '<rect x="5" y="11" width="14" height="9" rx="2"/>' +
			'<path d="M8 11V8a4 4 0 0 1 8 0v3"/>',
		unlock: '<rect x="5" y="11" width="14" height="9" rx="2"/>' +
			'<path d="M8 11V8a4 4 0 0 1 7.6-1.8"/>',
		rec: '<circle cx="12" cy="12" r="6" fill="currentColor"/>',
		warn: '<path d="M12 3l10 18H2z"/><path d="M12 10v5M12 18v.5"/>',
		mark: '<path d="M6 3h12v18l-6-4-6 4z"/>'
	};
	const icon = (n) => `<svg viewBox="0 0 24 24" aria-hidden="true">${ICON[n]}</svg>`;

	/* ---- state ------------------------------------------------------ */
	const st = {
		me: {user: null, role: 'operator', accounts: false},
		rooms: [],
		roomId: null,
		room: null,
		rows: new Map(),         /* site id -> Row */
		order: [],               /* site ids in display order */
		expBySite: new Map(),    /* site id -> expected entry */
		alarms: [],
		marks: [],
		filter: '',
		rosterFilter: 'all',
		es: null,
		lastEvent: 0,
		conn: 'off',
		backoff: 1000,
		reconnectTmr: 0,
		fetching: false,
		refetch: false,
		fetchTmr: 0,
		rec: {on: false, seconds: 0, at: 0},
		started: false,
		talkKey: '',
		tab: 'live'
	};

	/* ---- the API ---------------------------------------------------- */
	class ApiError extends Error {
		constructor(status, msg) {
			super(msg);
			this.status = status;
		}
	}

	async function api(method, path, body) {
		const opt = {method, credentials: 'same-origin', cache: 'no-store',
			     headers: {'X-Requested-With': 'lowbridge'}};
		if (body !== undefined) {
			opt.headers['Content-Type'] =
				'application/x-www-form-urlencoded';
			opt.body = body;
		}
		let res;
		try {
			res = await fetch(path, opt);
		} catch (e) {
			throw new ApiError(0, t('err_network'));
		}
		const text = await res.text();
		let data = null;
		try {
			data = text ? JSON.parse(text) : null;
		} catch (e) {
			data = null;
		}
		if (!res.ok) {
			if (res.status === 401 && path !== 'api/login')
				needLogin();
			throw new ApiError(res.status,
					   (data && data.error) || res.statusText);
		}
		return data;
	}

	const roomPath = () => 'api/rooms/' + encodeURIComponent(st.roomId);

	function toast(msg, err) {
		const el = document.createElement('div');
		el.className = 'toast' + (err ? ' err' : '');
		el.textContent = msg;
		$('toasts').appendChild(el);
		setTimeout(() => el.remove(), err ? 6000 : 3500);
		while ($('toasts').children.length > 4)
			$('toasts').firstChild.remove();
	}

	function cmdError(e) {
		if (e.status === 401)
			return;
		if (e.status === 403) {
			toast(t('forbidden'), true);
			setRole('viewer');
			return;
		}
		toast(e.status ? t('err', {msg: e.message}) : e.message, true);
	}

	function confirmDlg(text, yes) {
		const dlg = $('confirm');
		$('confirm-text').textContent = text;
		$('confirm-yes').textContent = yes;
		if (typeof dlg.showModal !== 'function')
			return Promise.resolve(window.confirm(text));
		return new Promise((resolve) => {
			dlg.returnValue = 'no';
			dlg.addEventListener('close', () =>
				resolve(dlg.returnValue === 'yes'), {once: true});
			dlg.showModal();
		});
	}

	/* ---- language --------------------------------------------------- */
	function applyLang() {
		document.documentElement.lang = lang;
		for (const el of document.querySelectorAll('[data-i18n]'))
			el.textContent = t(el.dataset.i18n);
		for (const el of document.querySelectorAll('[data-i18n-ph]'))
			el.placeholder = t(el.dataset.i18nPh);
		$('lang').textContent = lang === 'vi' ? 'EN' : 'VI';
		setConn(st.conn, true);
		$('who-role').textContent = t(st.me.role);
		if (st.room) {
			for (const r of st.rows.values())
				r.relabel();
			renderRoom(st.room);
		}
		renderMarks();
		renderTalkers();
		if (st.session)
			renderSession(st.session);
		renderRecList();
	}

	$('lang').addEventListener('click', () => {
		lang = lang === 'vi' ? 'en' : 'vi';
		localStorage.setItem('lb.lang', lang);
		applyLang();
	});

	/* ---- connection indicator --------------------------------------- */
	function setConn(state, force) {
		if (state === st.conn && !force)
			return;
		st.conn = state;
		$('conn').dataset.state = state;
		/* the meters are not current: grey them */
		document.body.classList.toggle('stale', state !== 'live');
		$('conn').querySelector('.conn-text').textContent =
			t('conn_' + state);
	}

	/* ---- log in ----------------------------------------------------- */
	function needLogin() {
		closeLive();
		$('login').hidden = false;
		$('login-user').focus();
	}

	$('login-form').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const body = new URLSearchParams({user: $('login-user').value,
						  password: $('login-pass').value});
		$('login-err').textContent = '';
		try {
			const me = await api('POST', 'api/login', body.toString());
			$('login-pass').value = '';
			$('login').hidden = true;
			st.me = {user: me.user, role: me.role, accounts: true};
			start();
		} catch (e) {
			$('login-err').textContent = e.status === 401 ?
				t('login_bad') : e.status === 429 ?
				t('login_limited') : e.message;
		}
	});

	$('logout').addEventListener('click', async () => {
		try {
			await api('POST', 'api/logout', '');
		} catch (e) { /* the form comes back either way */ }
		st.started = false;
		needLogin();
	});

	function setRole(role) {
		st.me.role = role;
		document.body.classList.toggle('viewer', role !== 'operator');
		$('who').hidden = !st.me.accounts;
		$('who-name').textContent = st.me.user || '';
		$('who-role').textContent = t(role);
	}

	/* ---- start ------------------------------------------------------ */
	async function boot() {
		applyLang();
		try {
			st.me = await api('GET', 'api/me');
		} catch (e) {
			if (e.status === 401)
				return;     /* the login form is up */
			if (e.status === 403) {
				/* a bridge without accounts serves only its own
				 * computer: say so, the server's words */
				$('blocked-text').textContent = e.message;
				$('blocked').hidden = false;
				return;
			}
			/* a bridge without the accounts API: open, as operator */
			st.me = {user: null, role: 'operator', accounts: false};
		}
		start();
	}

	async function start() {
		document.body.classList.remove('booting');
		setRole(st.me.role || 'viewer');
		st.started = true;
		try {
			const d = await api('GET', 'api/rooms');
			st.rooms = (d && d.rooms) || [];
		} catch (e) {
			cmdError(e);
			setTimeout(() => st.started && start(), 3000);
			return;
		}
		const sel = $('room-select');
		sel.innerHTML = st.rooms.map((r) =>
			`<option value="${esc(r.id)}">${esc(r.id)} · ${esc(r.name)}</option>`).join('');
		$('room-pick').hidden = st.rooms.length < 2;
		const want = new URLSearchParams(location.hash.slice(1)).get('room') ||
			localStorage.getItem('lb.room');
		const pick = st.rooms.find((r) => r.id === want) ||
			st.rooms.find((r) => r.site_count > 0) || st.rooms[0];
		if (pick)
			selectRoom(pick.id);
	}

	$('room-select').addEventListener('change', (ev) =>
		selectRoom(ev.target.value));

	function selectRoom(id) {
		st.roomId = id;
		$('room-select').value = id;
		localStorage.setItem('lb.room', id);
		history.replaceState(null, '', '#room=' + encodeURIComponent(id));
		st.room = null;
		st.marks = [];
		renderMarks();
		for (const r of st.rows.values())
			r.remove();
		st.rows.clear();
		st.order = [];
		st.session = null;
		$('rec-detail').hidden = true;
		fetchRoom();
		openLive();
		if (st.tab === 'rec')
			loadRecList();
	}

	/* ---- the room --------------------------------------------------- */
	async function fetchRoom() {
		if (!st.roomId)
			return;
		if (st.fetching) {
			st.refetch = true;
			return;
		}
		st.fetching = true;
		const id = st.roomId;
		try {
			const room = await api('GET', roomPath());
			if (room && room.id === st.roomId)
				renderRoom(room);
		} catch (e) {
			if (!(e instanceof ApiError))
				console.error(e);
			else if (e.status !== 401 && id === st.roomId)
				setConn('off');
		} finally {
			st.fetching = false;
			if (st.refetch) {
				st.refetch = false;
				fetchRoom();
			}
		}
	}

	/* Joins and leaves come in bursts at the start and end of a
	 * meeting: one fetch per burst-quarter-second, never postponed
	 * indefinitely (a throttle, not a debounce). */
	function scheduleFetch(ms = 250) {
		if (st.fetchTmr) {
			if (ms > 0)
				return;
			clearTimeout(st.fetchTmr);
		}
		st.fetchTmr = setTimeout(() => {
			st.fetchTmr = 0;
			fetchRoom();
		}, ms);
	}

	function renderRoom(room) {
		st.room = room;
		const exp = room.expected || [];
		st.expBySite = new Map();
		for (const e of exp) {
			if (e.site)
				st.expBySite.set(e.site, e);
		}
		$('room-name').textContent = room.name || room.id;
		document.title = (room.alarms && room.alarms.length ?
			`(${room.alarms.length}) ` : '') + (room.name || room.id) +
			' · lowbridge';

		/* rows: create, update, drop, then order by name */
		const sites = (room.sites || []).filter((s) => s.state !== 'closed');
		const seen = new Set();
		for (const s of sites) {
			seen.add(s.id);
			let r = st.rows.get(s.id);
			if (!r) {
				r = new Row(s.id);
				st.rows.set(s.id, r);
			}
			r.update(s, st.expBySite.get(s.id), exp.length > 0);
		}
		for (const [id, r] of st.rows) {
			if (!seen.has(id)) {
				r.remove();
				st.rows.delete(id);
			}
		}
		const coll = new Intl.Collator(lang, {numeric: true});
		const order = sites.map((s) => s.id).sort((a, b) =>
			coll.compare(st.rows.get(a).name, st.rows.get(b).name));
		if (order.join() !== st.order.join()) {
			const list = $('site-list');
			for (const id of order)
				list.appendChild(st.rows.get(id).el);
			st.order = order;
		}
		applyFilter();
		$('sites-empty').hidden = sites.length > 0;

		/* counts: of the expected sites when there is a roster */
		const stat = (k, n) => `<span>${esc(t(k))}: <b>${n}</b></span>`;
		let stats;
		if (exp.length) {
			const n = (x) => exp.filter((e) => e.state === x).length;
			const here = n('connected') + n('late');
			stats = `<span>${esc(t('stat_connected'))}: <b>${here}</b> / ${exp.length}</span>`;
			if (n('missing'))
				stats += stat('missing', n('missing'));
			const unk = sites.filter((s) => !st.expBySite.has(s.id)).length;
			if (unk)
				stats += stat('unknown', unk);
		} else {
			stats = stat('stat_connected', sites.length);
		}
		setHTML($('room-stats'), stats);

		/* switches */
		const lock = $('btn-lock');
		lock.setAttribute('aria-pressed', String(!!room.locked));
		lock.innerHTML = icon(room.locked ? 'lock' : 'unlock') +
			esc(t(room.locked ? 'unlock' : 'lock'));
		const ma = $('btn-muteall');
		ma.setAttribute('aria-pressed', String(!!room.mute_all));
		ma.innerHTML = icon(room.mute_all ? 'micoff' : 'mic') +
			esc(t(room.mute_all ? 'unmute_all' : 'mute_all'));
		const rec = room.recording || {};
		st.rec = {on: !!rec.on && !!rec.session, seconds: rec.seconds || 0,
			  at: Date.now(), available: rec.available !== false,
			  alarm: rec.alarm || ''};
		const rb = $('btn-record');
		rb.setAttribute('aria-pressed', String(!!rec.on));
		rb.innerHTML = icon('rec') + esc(t(rec.on ? 'stop_record' : 'record'));
		rb.disabled = rec.available === false && !rec.on;
		rb.title = rec.available === false ? t('rec_na') : '';
		tickRec();

		let banners = '';
		if (room.locked)
			banners += `<div class="banner lock">${icon('lock')}${esc(t('locked_banner'))}</div>`;
		if (room.mute_all)
			banners += `<div class="banner muteall">${icon('micoff')}${esc(t('muteall_banner'))}</div>`;
		if (rec.alarm)
			banners += `<div class="banner warn">${icon('warn')}${esc(t('a_recorder', {text: rec.alarm}))}</div>`;
		setHTML($('banners'), banners);

		renderTest();
		renderRoster();
		renderAlarms(room.alarms || []);
	}

	function setHTML(el, html) {
		if (el._html !== html) {
			el._html = html;
			el.innerHTML = html;
		}
	}

	function fmtDur(s) {
		s = Math.max(0, Math.floor(s));
		const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
		const ss = String(s % 60).padStart(2, '0');
		return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
	}

	function tickRec() {
		const r = st.rec;
		const el = $('rec-state');
		if (!st.room) {
			el.hidden = true;
			return;
		}
		el.hidden = false;
		el.textContent = r.on ?
			t('rec_on', {t: fmtDur(r.seconds + (Date.now() - r.at) / 1000)}) :
			r.available ? t('rec_off') : t('rec_na');
	}

	/* ---- roster ----------------------------------------------------- */
	function rosterEntries() {
		const room = st.room;
		const exp = (room && room.expected) || [];
		const out = exp.map((e) => ({kind: 'exp', e, state: e.state}));
		if (exp.length) {
			for (const s of room.sites || []) {
				if (s.state !== 'closed' && !st.expBySite.has(s.id))
					out.push({kind: 'caller', s, state: 'unknown'});
			}
		}
		return out;
	}

	const room_test = () => st.room && st.room.test;

	/* ---- test run (readiness) --------------------------------------- */
	function renderTest() {
		const ts = room_test() || {state: 'none'};
		const n = ts.expected || ts.connected || 0;
		const hhmm = (iso) => iso ? new Date(iso).toLocaleTimeString(
			[], {hour: '2-digit', minute: '2-digit'}) : '';
		const live = ts.state === 'open' || ts.state === 'complete';
		$('test-state').textContent = ts.state === 'none' ?
			t('test_none') : ts.state === 'open' ?
			t('test_open_until', {t: hhmm(ts.end), p: ts.passed, n}) :
			ts.state === 'complete' ?
			t('test_declared', {p: ts.passed, n}) :
			t('test_closed', {p: ts.passed, n});
		$('test-panel').dataset.state = ts.state;
		$('btn-test-open').hidden = live;
		$('btn-test-complete').hidden = ts.state !== 'open';
		$('btn-test-close').hidden = !live;
		$('test-report').hidden = ts.state === 'none';
		$('test-report').href = roomPath() + '/test/report' +
			(lang === 'vi' ? '.vi' : '') + '.html';
	}

	async function testCmd(q, btn) {
		btn.disabled = true;
		try {
			await api('POST', roomPath() + '/test?' + q);
			scheduleFetch(0);
		} catch (e) {
			cmdError(e);
		} finally {
			btn.disabled = false;
		}
	}

	$('btn-test-open').addEventListener('click', (ev) =>
		testCmd('action=open&minutes=30', ev.currentTarget));
	$('btn-test-complete').addEventListener('click', (ev) =>
		testCmd('action=complete', ev.currentTarget));
	$('btn-test-close').addEventListener('click', async (ev) => {
		const btn = ev.currentTarget;
		if (!await confirmDlg(t('test_close_q'), t('test_close_yes')))
			return;
		testCmd('action=close', btn);
	});

	function renderRoster() {
		const all = rosterEntries();
		const has = all.length > 0;
		$('roster-empty').hidden = has;
		const counts = {all: all.length};
		for (const x of all)
			counts[x.state] = (counts[x.state] || 0) + 1;
		const kinds = ['all', 'missing', 'late', 'connected', 'left',
			       'unknown'];
		if (st.rosterFilter !== 'all' && !counts[st.rosterFilter])
			st.rosterFilter = 'all';
		setHTML($('roster-chips'), !has ? '' : kinds.filter((k) =>
			k === 'all' || counts[k]).map((k) =>
			`<button type="button" class="chip" data-filter="${k}" ` +
			`aria-pressed="${st.rosterFilter === k}">` +
			(k === 'all' ? '' : `<span class="sw ${k}"></span>`) +
			`${esc(t(k))} ${counts[k] || 0}</button>`).join(''));
		const items = all.filter((x) => st.rosterFilter === 'all' ||
					 x.state === st.rosterFilter);
		setHTML($('roster'), items.map((x) => {
			if (x.kind === 'caller') {
				const s = x.s;
				return `<li data-caller="${esc(s.id)}" data-state="unknown" ` +
					`data-site-link="${esc(s.id)}">` +
					'<span class="sw unknown"></span>' +
					`<span class="rn">${esc(s.name || s.uri)}</span>` +
					`<span class="rs">${esc(t('unknown'))}</span>` +
					`<span class="rc">${esc(s.uri)} · ${esc(s.remote)}</span></li>`;
			}
			const e = x.e;
			const checks = (room_test() || {}).checks || {};
			const check = e.site ? checks[e.site] || '' : '';
			let when = '';
			if (e.state === 'late' && e.joined_s !== undefined)
				when = ' · ' + t('joined_at', {m: Math.round(e.joined_s / 60)});
			if (e.state === 'left' && e.left_ago_s !== undefined)
				when = ' · ' + t('left_ago', {m: Math.round(e.left_ago_s / 60)});
			const phone = e.phone ?
				`<a href="tel:${esc(e.phone.replace(/[^0-9+]/g, ''))}">${esc(e.phone)}</a>` : '';
			const contact = [esc(e.contact), phone].filter(Boolean).join(' · ');
			return `<li data-expected="${esc(e.name)}" data-state="${esc(e.state)}"` +
				(e.site ? ` data-site-link="${esc(e.site)}"` : '') + '>' +
				`<span class="sw ${esc(e.state)}"></span>` +
				`<span class="rn" title="${esc(e.name)}">${esc(e.name)}</span>` +
				`<span class="rs">${esc(t(e.state))}${esc(when)}</span>` +
				(check ? `<span class="rk" data-check="${esc(check)}">` +
				 `${esc(check)}</span>` : '') +
				(contact ? `<span class="rc">${contact}</span>` : '') + '</li>';
		}).join(''));
	}

	$('roster-chips').addEventListener('click', (ev) => {
		const b = ev.target.closest('[data-filter]');
		if (!b)
			return;
		st.rosterFilter = b.dataset.filter;
		renderRoster();
	});

	$('roster').addEventListener('click', (ev) => {
		if (ev.target.closest('a'))
			return;
		const li = ev.target.closest('[data-site-link]');
		if (li)
			showSite(li.dataset.siteLink);
	});

	function showSite(id) {
		const r = st.rows.get(id);
		if (!r)
			return;
		if (r.el.hidden) {
			$('site-filter').value = '';
			st.filter = '';
			applyFilter();
		}
		r.el.scrollIntoView({block: 'center', behavior: 'smooth'});
		r.el.classList.remove('flash');
		void r.el.offsetWidth;
		r.el.classList.add('flash');
	}

	/* ---- alarms ----------------------------------------------------- */
	function alarmText(a) {
		const r = a.site && st.rows.get(a.site);
		const name = r ? r.name : a.site;
		switch (a.kind) {
		case 'clipping':
		case 'echo':
		case 'silent':
			return r ? t('a_' + a.kind, {name}) : a.text;
		case 'loss': {
			const m = /([0-9.]+) %/.exec(a.text || '');
			return r && m ? t('a_loss', {name, pct: Math.round(Number(m[1]))}) :
				a.text;
		}
		case 'missing': {
			const e = ((st.room && st.room.expected) || []).find((x) =>
				(a.text || '').startsWith(x.name + ' has not'));
			return e ? t('a_missing', e) : a.text;
		}
		case 'recorder':
			return t('a_recorder', {text: a.text});
		default:
			return a.text;
		}
	}

	function renderAlarms(list) {
		st.alarms = Array.isArray(list) ? list : [];
		const n = st.alarms.length;
		$('alarm-count').textContent = n;
		$('alarm-count').classList.toggle('hot', n > 0);
		$('alarms-empty').hidden = n > 0;
		setHTML($('alarm-list'), st.alarms.map((a) =>
			`<li data-alarm-site="${esc(a.site)}" data-kind="${esc(a.kind)}">` +
			`<span class="kind" data-kind="${esc(a.kind)}">${esc(t('k_' + a.kind))}</span>` +
			`<span>${esc(alarmText(a))}</span></li>`).join(''));
		/* a warning sign on the row of each site with an alarm */
		const bySite = new Map();
		for (const a of st.alarms) {
			if (a.site)
				bySite.set(a.site, (bySite.get(a.site) ? bySite.get(a.site) + '\n' : '') + alarmText(a));
		}
		for (const [id, r] of st.rows)
			r.setAlarm(bySite.get(id) || '');
	}

	$('alarm-list').addEventListener('click', (ev) => {
		const li = ev.target.closest('li[data-alarm-site]');
		if (li && li.dataset.alarmSite)
			showSite(li.dataset.alarmSite);
	});

	/* ---- bookmarks -------------------------------------------------- */
	function renderMarks() {
		const hm = (d) => d.toTimeString().slice(0, 8);
		setHTML($('marks'), st.marks.map((m) =>
			`<li><span class="t">${hm(m.at)}</span>${esc(m.text)}` +
			(m.by ? ` <span class="t">(${esc(m.by)})</span>` : '') +
			'</li>').join(''));
	}

	$('bookmark-form').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const input = $('bookmark-text');
		const text = input.value.trim();
		if (!text)
			return;
		try {
			const room = await api('POST', roomPath() + '?bookmark=' +
					       encodeURIComponent(text));
			input.value = '';
			toast(t('bookmarked', {text}));
			if (room && room.id === st.roomId)
				renderRoom(room);
		} catch (e) {
			cmdError(e);
		}
	});

	/* ---- room switches ---------------------------------------------- */
	async function roomCmd(q, btn) {
		btn.disabled = true;
		try {
			const room = await api('POST', roomPath() + '?' + q);
			if (room && room.id === st.roomId)
				renderRoom(room);
			else
				scheduleFetch(0);
		} catch (e) {
			cmdError(e);
		} finally {
			btn.disabled = false;
		}
	}

	$('btn-lock').addEventListener('click', (ev) => st.room &&
		roomCmd('lock=' + (st.room.locked ? 'off' : 'on'), ev.currentTarget));
	$('btn-muteall').addEventListener('click', (ev) => st.room &&
		roomCmd('mute_all=' + (st.room.mute_all ? 'off' : 'on'),
			ev.currentTarget));
	$('btn-record').addEventListener('click', async (ev) => {
		const btn = ev.currentTarget;
		if (!st.room)
			return;
		const on = !!(st.room.recording && st.room.recording.on);
		if (on && !await confirmDlg(t('rec_stop_q'), t('rec_stop_yes')))
			return;
		roomCmd('record=' + (on ? 'off' : 'on'), btn);
	});

	/* ---- site rows -------------------------------------------------- */
	const visObs = 'IntersectionObserver' in window ?
		new IntersectionObserver((ents) => {
			for (const en of ents) {
				const r = en.target._row;
				if (r) {
					r.visible = en.isIntersecting;
					if (r.visible)
						kick();
				}
			}
		}) : null;

	const frac = (db) => Math.min(1, Math.max(0,
		(db - METER_MIN_DB) / -METER_MIN_DB));

	class Row {
		constructor(id) {
			this.id = id;
			this.visible = !visObs;
			this.site = null;
			this.name = id;
			this.lv = null;
			this.inDb = -100; this.disp = -100; this.outDisp = -100;
			this.peak = -100; this.peakAt = 0; this.clipUntil = 0;
			this.cmdAt = -1e9;       /* when our last command answered */
			this.w = {};             /* what the DOM shows now */
			const el = document.createElement('div');
			el.className = 'site';
			el.dataset.site = id;
			el.innerHTML =
				'<span class="vdot"></span>' +
				'<div class="sname"><span class="n1"></span><span class="n2"></span></div>' +
				'<div class="meter"><div class="meter-fill" data-level="-100"></div>' +
				'<div class="meter-out"></div><div class="meter-peak"></div>' +
				'<div class="meter-clip"></div></div>' +
				'<div class="q"><span class="nums"><span class="num agc"></span>' +
				'<span class="num echo"></span></span><span class="linkq"></span></div>' +
				'<div class="ctl op">' +
				'<button type="button" class="btn btn-mute" aria-pressed="false"></button>' +
				'<button type="button" class="btn btn-deaf" aria-pressed="false"></button>' +
				'<div class="vol"><span class="gain gain-in"><span class="ico">' + icon('mic') + '</span>' +
				'<button type="button" data-gain="in" data-d="-1" aria-label="-">−</button>' +
				'<output>0</output>' +
				'<button type="button" data-gain="in" data-d="1" aria-label="+">+</button></span>' +
				'<span class="gain gain-out"><span class="ico">' + icon('spk') + '</span>' +
				'<button type="button" data-gain="out" data-d="-1" aria-label="-">−</button>' +
				'<output>0</output>' +
				'<button type="button" data-gain="out" data-d="1" aria-label="+">+</button></span></div>' +
				'<button type="button" class="btn btn-kick">' + icon('kick') + '</button>' +
				'</div><div class="details" hidden></div>';
			el._row = this;
			const q = (s) => el.querySelector(s);
			this.el = el;
			this.e = {
				vdot: q('.vdot'), n1: q('.n1'), n2: q('.n2'),
				fill: q('.meter-fill'), out: q('.meter-out'),
				peak: q('.meter-peak'), clip: q('.meter-clip'),
				agc: q('.agc'), echo: q('.echo'), link: q('.linkq'),
				mute: q('.btn-mute'), deaf: q('.btn-deaf'),
				kick: q('.btn-kick'), gin: q('.gain-in'),
				gout: q('.gain-out'), details: q('.details')
			};
			this.relabel();
			if (visObs)
				visObs.observe(el);
		}

		remove() {
			if (visObs)
				visObs.unobserve(this.el);
			this.el.remove();
		}

		/* From the room JSON (or a command's answer). */
		update(s, exp, hasRoster) {
			this.site = s;
			this.exp = exp;
			this.name = exp ? exp.name : s.name || s.uri || s.id;
			const e = this.e;
			this.el.dataset.state = s.state;
			this.el.dataset.roster = exp ? exp.state :
				hasRoster ? 'unknown' : 'none';
			let tags = '';
			if (hasRoster && !exp)
				tags += `<span class="tag unknown">${esc(t('unknown'))}</span>`;
			if (s.dsp && s.dsp.chair)
				tags += `<span class="tag chair">${esc(t('chair'))}</span>`;
			if (s.dir && s.dir !== 'sendrecv')
				tags += `<span class="tag hold">${esc(t('hold'))}</span>`;
			setHTML(e.n1, esc(this.name) + tags +
				(this.alarm ? `<span class="salarm" title="${esc(this.alarm)}">${icon('warn')}</span>` : ''));
			e.n1.title = this.name;
			let sub = [exp ? s.name : s.uri, s.codec &&
				     `${s.codec}${s.ptime ? ' ' + s.ptime + ' ms' : ''}`];
			const pool = st.room && st.room.pool;
			const ps = pool && (pool.sites || []).find((x) =>
				x.site === s.id);
			if (ps) {
				/* on the room's conference DSP unit: which of
				 * its processing the unit does now */
				sub.push(`${t('dsp_unit')} ${ps.channel + 1}: ` +
					 ['aec', 'ns', 'agc'].map((k) =>
						 `${k.toUpperCase()} ${t('where_' + ps[k])}`).join(', '));
			}
			if (s.local) {
				/* the room's own sound card: which of its
				 * speech processing runs where */
				const w = s.local.features || {};
				sub = [`${t('local_room')}: ${s.local.device || '-'}`,
				       ['aec', 'ns', 'agc'].map((k) =>
					       `${k.toUpperCase()} ${t('where_' + w[k])}`).join(', ')];
			}
			e.kick.hidden = s.kind === 'local';
			setText(e.n2, sub.filter(Boolean).join(' · '));
			this.setMuted(!!s.muted);
			this.setDeaf(!!s.deaf);
			this.setGain(e.gin, s.gain_in_db);
			this.setGain(e.gout, s.gain_out_db);
			if (!e.details.hidden)
				this.renderDetails();
		}

		setAlarm(text) {
			if (this.alarm === text)
				return;
			this.alarm = text;
			if (this.site)
				this.update(this.site, this.exp,
					    this.el.dataset.roster !== 'none');
		}

		relabel() {
			const e = this.e;
			this.w.mute = this.w.deaf = undefined;
			this.setMuted(this.muted);
			this.setDeaf(this.deaf);
			e.kick.title = t('kick_tip');
			e.kick.setAttribute('aria-label', t('kick'));
			e.gin.title = t('gain_in_tip');
			e.gout.title = t('gain_out_tip');
			e.vdot.title = t('voice');
			e.agc.title = t('agc_tip');
			e.echo.title = t('echo_tip');
			if (this.site)
				this.update(this.site, this.exp,
					    this.el.dataset.roster !== 'none');
		}

		setMuted(on) {
			this.muted = !!on;
			if (this.w.mute === this.muted)
				return;
			this.w.mute = this.muted;
			const b = this.e.mute;
			b.setAttribute('aria-pressed', String(this.muted));
			b.innerHTML = icon(this.muted ? 'micoff' : 'mic') + esc(t('mute'));
			b.title = t(this.muted ? 'unmute_tip' : 'mute_tip');
			this.el.classList.toggle('is-muted', this.muted);
		}

		setDeaf(on) {
			this.deaf = !!on;
			if (this.w.deaf === this.deaf)
				return;
			this.w.deaf = this.deaf;
			const b = this.e.deaf;
			b.setAttribute('aria-pressed', String(this.deaf));
			b.innerHTML = icon(this.deaf ? 'spkoff' : 'spk') + esc(t('deaf'));
			b.title = t(this.deaf ? 'undeaf_tip' : 'deaf_tip');
		}

		setGain(el, db) {
			const v = Math.round(Number(db) || 0);
			setText(el.querySelector('output'), (v > 0 ? '+' : '') + v);
			el.classList.toggle('changed', v !== 0);
		}

		renderDetails() {
			const s = this.site, lv = this.lv || {};
			const f = (k, v) => v === undefined || v === null || v === '' ? '' :
				`<span>${esc(t(k))}: <b>${esc(v)}</b></span>`;
			setHTML(this.e.details,
				f('d_uri', s.uri) + f('d_remote', s.remote) +
				f('d_codec', s.codec && `${s.codec} ${s.ptime} ms${s.fec ? ' FEC' : ''}`) +
				f('d_since', s.connected_s !== undefined ? fmtDur(s.connected_s) : '') +
				f('d_packets', s.packets_in !== undefined ? `${s.packets_in} / ${s.packets_out}` : '') +
				f('d_rtt', s.rtt_ms !== undefined ? `${s.rtt_ms} ms` : '') +
				f('d_out', lv.out !== undefined ? `${lv.out.toFixed(0)} dBFS` : '') +
				f('d_sent', lv.sent !== undefined ? `${lv.sent.toFixed(0)} dBFS` : '') +
				f('d_erle', lv.erle ? `${lv.erle.toFixed(0)} dB` : ''));
		}

		toggleDetails() {
			const d = this.e.details;
			d.hidden = !d.hidden;
			if (!d.hidden)
				this.renderDetails();
		}

		/* One animation step; returns true while still moving. */
		frame(now, dt) {
			const lv = this.lv;
			const e = this.e, w = this.w;
			const target = this.inDb;
			const k = 1 - Math.exp(-dt / (target > this.disp ? ATTACK_MS : RELEASE_MS));
			this.disp += (target - this.disp) * k;
			const ot = lv ? lv.out : -100;
			this.outDisp += (ot - this.outDisp) *
				(1 - Math.exp(-dt / (ot > this.outDisp ? ATTACK_MS : RELEASE_MS)));
			if (this.disp >= this.peak) {
				this.peak = this.disp;
				this.peakAt = now;
			} else if (now - this.peakAt > PEAK_HOLD_MS) {
				this.peak = Math.max(this.disp,
					this.peak - PEAK_FALL_DB_S * dt / 1000);
			}
			const fr = frac(this.disp);
			if (Math.abs(fr - (w.fill ?? -1)) > 0.002) {
				w.fill = fr;
				e.fill.style.transform = `scaleX(${fr.toFixed(4)})`;
				const zone = this.disp > -6 ? 'over' : this.disp > -14 ? 'hot' : '';
				if (zone !== w.zone) {
					w.zone = zone;
					e.fill.className = 'meter-fill' + (zone ? ' ' + zone : '');
				}
			}
			const ofr = frac(this.outDisp);
			if (Math.abs(ofr - (w.out ?? -1)) > 0.004) {
				w.out = ofr;
				e.out.style.transform = `scaleX(${ofr.toFixed(3)})`;
			}
			const pf = frac(this.peak);
			if (Math.abs(pf - (w.peak ?? -1)) > 0.002) {
				w.peak = pf;
				e.peak.style.transform = pf > 0 ?
					`translateX(${((pf - 1) * 100).toFixed(2)}%)` :
					'translateX(-101%)';
			}
			const level = this.inDb.toFixed(1);
			if (level !== w.level) {
				w.level = level;
				e.fill.dataset.level = level;
			}
			const clip = now < this.clipUntil;
			if (clip !== w.clip) {
				w.clip = clip;
				e.clip.classList.toggle('on', clip);
			}
			if (lv) {
				const tk = !!lv.tk;
				if (tk !== w.tk) {
					w.tk = tk;
					this.el.classList.toggle('talking', tk);
				}
				const v = !!lv.v;
				if (v !== w.v) {
					w.v = v;
					e.vdot.classList.toggle('on', v);
				}
				const agc = `${esc(t('agc_short'))} <b>${lv.agc > 0.5 ? '+' : ''}${Math.round(lv.agc)}</b>`;
				setHTML(e.agc, agc);
				const echo = `${esc(t('echo_short'))} <b>${lv.echo >= 0.05 ? lv.echo.toFixed(1) : '–'}</b>`;
				setHTML(e.echo, echo);
				const eq = lv.echo >= 0.6 ? 'num echo bad' :
					lv.echo >= 0.3 ? 'num echo some' : 'num echo';
				if (eq !== w.eq) {
					w.eq = eq;
					e.echo.className = eq;
				}
				const link = `${lv.loss < 10 ? lv.loss.toFixed(1) : Math.round(lv.loss)}% · ${Math.round(lv.jit)} ms`;
				if (link !== w.link) {
					w.link = link;
					e.link.textContent = link;
					e.link.title = t('link_tip', {loss: lv.loss.toFixed(1),
								      jit: lv.jit.toFixed(0)});
				}
				const lq = lv.loss >= 5 || lv.jit >= 80 ? 'poor' :
					lv.loss >= 1 || lv.jit >= 40 ? 'fair' : 'good';
				if (lq !== w.lq) {
					w.lq = lq;
					e.link.className = 'linkq ' + lq;
				}
			}
			return Math.abs(target - this.disp) > 0.05 ||
				Math.abs(ot - this.outDisp) > 0.05 ||
				this.peak > this.disp + 0.05 || clip;
		}
	}

	function setText(el, s) {
		if (el._t !== s) {
			el._t = s;
			el.textContent = s;
		}
	}

	/* The animation loop runs while something moves, and stops. At most
	 * FRAME_MS a step: smooth enough for a meter, and half the painting
	 * of the display's 60 Hz. */
	const FRAME_MS = 30;
	let rafId = 0, lastFrame = 0;
	function kick() {
		if (!rafId)
			rafId = requestAnimationFrame(frame);
	}
	function frame(now) {
		rafId = 0;
		if (lastFrame && now - lastFrame < FRAME_MS - 4) {
			kick();
			return;
		}
		const dt = Math.min(200, lastFrame ? now - lastFrame : 16);
		lastFrame = now;
		let more = false;
		for (const r of st.rows.values()) {
			if (r.visible && !r.el.hidden)
				more = r.frame(now, dt) || more;
		}
		if (more)
			kick();
		else
			lastFrame = 0;
	}

	/* "binh" finds "Bình": operators often type without diacritics */
	const fold = (x) => String(x).normalize('NFD')
		.replace(/[\u0300-\u036f]/g, '').replace(/[đĐ]/g, 'd')
		.toLowerCase();

	function applyFilter() {
		const f = fold(st.filter.trim());
		for (const r of st.rows.values()) {
			const s = r.site || {};
			const hide = !!f && !fold(`${r.name} ${s.name} ${s.uri} ${r.id}`)
				.includes(f);
			if (r.el.hidden !== hide)
				r.el.hidden = hide;
		}
	}

	$('site-filter').addEventListener('input', (ev) => {
		st.filter = ev.target.value;
		applyFilter();
	});

	/* site commands, one listener for every row */
	$('site-list').addEventListener('click', async (ev) => {
		const rowEl = ev.target.closest('.site');
		if (!rowEl)
			return;
		const r = st.rows.get(rowEl.dataset.site);
		if (!r)
			return;
		if (ev.target.closest('.sname')) {
			r.toggleDetails();
			return;
		}
		const b = ev.target.closest('button');
		if (!b || b.disabled)
			return;
		let q;
		if (b.classList.contains('btn-mute')) {
			q = 'mute=' + (r.muted ? 'off' : 'on');
		} else if (b.classList.contains('btn-deaf')) {
			q = 'deaf=' + (r.deaf ? 'off' : 'on');
		} else if (b.dataset.gain) {
			const key = 'gain_' + b.dataset.gain + '_db';
			const cur = Math.round(Number(r.site && r.site[key]) || 0);
			const v = Math.min(GAIN_MAX_DB, Math.max(GAIN_MIN_DB,
				cur + GAIN_STEP_DB * Number(b.dataset.d)));
			if (v === cur)
				return;
			q = `${key}=${v}`;
		} else if (b.classList.contains('btn-kick')) {
			if (!await confirmDlg(t('kick_q', {name: r.name}), t('kick_yes')))
				return;
			q = 'kick=1';
		} else {
			return;
		}
		siteCmd(r, q, b);
	});

	async function siteCmd(r, q, btn) {
		btn.disabled = true;
		btn.classList.add('busy');
		try {
			const s = await api('POST', roomPath() + '/sites/' +
					    encodeURIComponent(r.id) + '?' + q);
			if (s && s.kicked) {
				scheduleFetch(0);
			} else if (s && s.id === r.id && st.room) {
				r.cmdAt = performance.now();
				const i = st.room.sites.findIndex((x) => x.id === s.id);
				if (i >= 0)
					st.room.sites[i] = s;
				r.update(s, st.expBySite.get(s.id),
					 (st.room.expected || []).length > 0);
			}
		} catch (e) {
			cmdError(e);
		} finally {
			btn.disabled = false;
			btn.classList.remove('busy');
		}
	}

	/* ---- talkers strip ---------------------------------------------- */
	function renderTalkers() {
		const ids = [];
		for (const id of st.order) {
			const r = st.rows.get(id);
			if (r && r.lv && r.lv.tk)
				ids.push(id);
		}
		const key = lang + ids.join();
		if (key === st.talkKey)
			return;
		st.talkKey = key;
		setHTML($('talker-list'), ids.length ? ids.map((id) =>
			`<button type="button" class="talker-chip" data-id="${esc(id)}">` +
			`${esc(st.rows.get(id).name)}</button>`).join(' ') :
			`<span class="none">${esc(t('nobody'))}</span>`);
	}

	$('talker-list').addEventListener('click', (ev) => {
		const b = ev.target.closest('[data-id]');
		if (b)
			showSite(b.dataset.id);
	});

	/* ---- the live stream -------------------------------------------- */
	function parse(ev) {
		try {
			return JSON.parse(ev.data);
		} catch (e) {
			return null;
		}
	}

	function closeLive() {
		clearTimeout(st.reconnectTmr);
		st.reconnectTmr = 0;
		if (st.es) {
			st.es.close();
			st.es = null;
		}
	}

	function openLive() {
		closeLive();
		if (!st.roomId)
			return;
		setConn('connecting');
		const es = new EventSource(roomPath() + '/live');
		st.es = es;
		st.lastEvent = Date.now();
		const on = (name, fn) => es.addEventListener(name, (ev) => {
			if (es !== st.es)
				return;
			st.lastEvent = Date.now();
			const d = parse(ev);
			if (d !== null)
				fn(d);
		});
		es.onopen = () => {
			if (es !== st.es)
				return;
			st.lastEvent = Date.now();
			st.backoff = 1000;
			setConn('live');
			scheduleFetch(0);   /* what changed while we were away */
		};
		/* We reconnect ourselves rather than let the browser do it:
		 * an EventSource cannot send X-Requested-With, so had the
		 * session expired its retry would get a 401 that asks for the
		 * browser's own password dialog. retryLive asks api/me first
		 * and brings up our form instead. */
		es.onerror = () => {
			if (es !== st.es)
				return;
			setConn(st.conn === 'live' ? 'connecting' : 'off');
			retryLive();
		};
		on('levels', onLevels);
		on('join', (d) => {
			scheduleFetch();
			if (d && d.site)
				toast(t('joined', {name: d.expected || d.name || d.site}));
		});
		on('leave', (d) => {
			const r = d && st.rows.get(d.site);
			if (r)
				toast(t('left_ev', {name: r.name}));
			scheduleFetch();
		});
		on('talk', (d) => {
			const r = st.rows.get(d.site);
			if (r && r.lv) {
				r.lv = Object.assign({}, r.lv, {tk: d.talking ? 1 : 0});
				renderTalkers();
				kick();
			}
		});
		on('alarm', renderAlarms);
		on('bookmark', (d) => {
			st.marks.unshift({at: new Date(), text: d.text, by: d.by});
			st.marks.length = Math.min(st.marks.length, 50);
			renderMarks();
		});
	}

	function retryLive() {
		closeLive();
		const wait = st.backoff;
		st.backoff = Math.min(10000, st.backoff * 2);
		st.reconnectTmr = setTimeout(async () => {
			st.reconnectTmr = 0;
			if (st.me.accounts) {
				try {
					await api('GET', 'api/me');
				} catch (e) {
					if (e.status === 401)
						return;  /* the login form is up */
				}
			}
			if (!$('login').hidden)
				return;
			openLive();
		}, wait);
	}

	function onLevels(d) {
		if (!d || d.room !== st.roomId || !Array.isArray(d.sites))
			return;
		if (st.conn !== 'live')
			setConn('live');
		const now = performance.now();
		let unknown = false;
		for (const s of d.sites) {
			const r = st.rows.get(s.id);
			if (!r) {
				unknown = true;
				continue;
			}
			r.lv = s;
			r.inDb = s.in;
			if (s.pk >= CLIP_DB)
				r.clipUntil = now + CLIP_HOLD_MS;
			/* a snapshot taken before our own command landed must
			 * not flip the button back for a moment */
			if (now - r.cmdAt > 1000) {
				if (!!s.mute !== r.muted)
					r.setMuted(!!s.mute);
				if (!!s.deaf !== r.deaf)
					r.setDeaf(!!s.deaf);
			}
			if (r.visible && !r.e.details.hidden && Math.random() < 0.1)
				r.renderDetails();
		}
		if (unknown)
			scheduleFetch(500);
		renderTalkers();
		kick();
	}

	/* once a second: liveness of the stream, the recording clock */
	setInterval(() => {
		if (st.es && !st.reconnectTmr) {
			const idle = Date.now() - st.lastEvent;
			if (idle > DEAD_MS)
				retryLive();
			else if (idle > STALE_MS && st.conn === 'live')
				setConn('stale');
		}
		if (st.rec.on)
			tickRec();
	}, 1000);

	setInterval(() => {
		if (st.started && !document.hidden && $('login').hidden &&
		    st.tab === 'live')
			fetchRoom();
	}, ROOM_POLL_MS);

	/* ---- tabs ------------------------------------------------------- */
	document.querySelector('.tabs').addEventListener('click', (ev) => {
		const b = ev.target.closest('[data-tab]');
		if (!b)
			return;
		st.tab = b.dataset.tab;
		for (const x of document.querySelectorAll('.tab'))
			x.setAttribute('aria-selected', String(x === b));
		$('view-live').hidden = st.tab !== 'live';
		$('view-rec').hidden = st.tab !== 'rec';
		if (st.tab === 'rec')
			loadRecList();
		else
			fetchRoom();
	});

	/* ---- recordings ------------------------------------------------- */
	function fmtStart(s) {
		const d = new Date(s);
		if (isNaN(d))
			return s || '';
		return d.toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB',
			{dateStyle: 'short', timeStyle: 'short'});
	}

	const baseName = (p) => String(p || '').split('/').pop();

	async function loadRecList() {
		if (!st.roomId)
			return;
		try {
			const d = await api('GET', 'api/recordings?room=' +
					    encodeURIComponent(st.roomId));
			st.recList = (d && d.sessions) || [];
			st.recList.sort((a, b) => String(b.start_utc)
				.localeCompare(String(a.start_utc)));
			renderRecList();
		} catch (e) {
			cmdError(e);
		}
	}

	function renderRecList() {
		const list = st.recList || [];
		$('rec-empty').hidden = list.length > 0;
		setHTML($('rec-rows'), list.map((s) =>
			`<tr data-session="${esc(s.session)}"` +
			(st.session && st.session.session === s.session ? ' class="sel"' : '') + '>' +
			`<td>${esc(fmtStart(s.start_utc || s.start_local))}</td>` +
			`<td>${esc(fmtDur(s.duration_s))}</td><td>${esc(s.sites)}</td>` +
			`<td>${esc(t('rec_' + s.state))}</td></tr>`).join(''));
	}

	$('rec-refresh').addEventListener('click', loadRecList);
	$('rec-rows').addEventListener('click', async (ev) => {
		const tr = ev.target.closest('[data-session]');
		if (!tr)
			return;
		try {
			const d = await api('GET', 'api/recordings/' +
					    encodeURIComponent(tr.dataset.session));
			st.session = d;
			st.track = 'mix';
			renderSession(d);
			renderRecList();
			setTrack('mix', 0, false);
		} catch (e) {
			cmdError(e);
		}
	});

	function trackSegs(id) {
		const d = st.session;
		if (!d)
			return [];
		if (id === 'mix')
			return d.mix || [];
		const s = (d.sites || []).find((x) => x.id === id);
		return (s && s.files) || [];
	}

	function renderSession(d) {
		$('rec-detail').hidden = false;
		$('rec-title').textContent = `${d.room_name || d.room} · ` +
			`${fmtStart(d.start_utc || d.start_local)} · ${fmtDur(d.duration_s)}`;
		const sel = $('rec-track');
		sel.innerHTML = `<option value="mix">${esc(t('rec_mix'))}</option>` +
			(d.sites || []).map((s) =>
				`<option value="${esc(s.id)}">${esc(s.name || s.id)}</option>`).join('');
		sel.value = st.track || 'mix';
		const dur = Math.max(1, d.duration_s || 1);
		const pct = (x) => (100 * Math.max(0, x) / dur).toFixed(3) + '%';
		const lanes = (d.sites || []).map((s) => {
			const turns = (d.turns || []).filter((x) => x.site === s.id);
			return `<div class="lane"><span class="ln" title="${esc(s.name)}">${esc(s.name || s.id)}</span>` +
				'<div class="lt">' + turns.map((x) =>
					`<button type="button" class="turn" data-t="${x.start_s}" ` +
					`data-left="${pct(x.start_s)}" data-width="${pct(x.end_s - x.start_s)}" ` +
					`title="${esc(s.name)} ${fmtDur(x.start_s)}–${fmtDur(x.end_s)}"></button>`).join('') +
				'</div></div>';
		}).join('');
		$('rec-timeline').innerHTML = lanes + '<div class="playhead" id="playhead"></div>';
		/* positions through the CSSOM: the bridge's Content-Security-
		 * Policy refuses style attributes in markup */
		for (const b of $('rec-timeline').querySelectorAll('.turn')) {
			b.style.left = b.dataset.left;
			b.style.width = b.dataset.width;
		}
		$('rec-turns').innerHTML = (d.turns || []).map((x) =>
			`<li data-t="${x.start_s}"><span class="t">${fmtDur(x.start_s)}–${fmtDur(x.end_s)}</span>` +
			`${esc(x.name || x.site)}</li>`).join('');
	}

	/* Play track id from session time at_s (segments: files that start
	 * later in the session after a pause of the recorder). */
	function setTrack(id, at_s, play) {
		const segs = trackSegs(id);
		const audio = $('rec-audio');
		st.track = id;
		if (!segs.length) {
			audio.removeAttribute('src');
			return;
		}
		let seg = segs[0];
		for (const g of segs) {
			if (g.start_s <= at_s)
				seg = g;
		}
		const url = 'api/recordings/' + encodeURIComponent(st.session.session) +
			'/' + encodeURIComponent(baseName(seg.path));
		const go = () => {
			audio.currentTime = Math.max(0, at_s - seg.start_s);
			if (play)
				audio.play().catch(() => {});
		};
		st.segStart = seg.start_s;
		if (audio.dataset.url !== url) {
			audio.dataset.url = url;
			audio.src = url;
			audio.addEventListener('loadedmetadata', go, {once: true});
			audio.load();
		} else {
			go();
		}
	}

	$('rec-track').addEventListener('change', (ev) => {
		const audio = $('rec-audio');
		const at = (st.segStart || 0) + (audio.currentTime || 0);
		setTrack(ev.target.value, at, !audio.paused);
	});

	const seekTo = (ev) => {
		const x = ev.target.closest('[data-t]');
		if (x && st.session)
			setTrack(st.track || 'mix', Number(x.dataset.t), true);
	};
	$('rec-timeline').addEventListener('click', seekTo);
	$('rec-turns').addEventListener('click', seekTo);

	$('rec-audio').addEventListener('timeupdate', () => {
		const ph = $('playhead');
		if (!ph || !st.session)
			return;
		const audio = $('rec-audio');
		/* a session still recording is longer than its JSON said */
		const dur = Math.max(1, st.session.duration_s || 1,
			Number.isFinite(audio.duration) ?
			(st.segStart || 0) + audio.duration : 0);
		const at = (st.segStart || 0) + audio.currentTime;
		ph.style.left = `calc(142px + (100% - 150px) * ${Math.min(1, at / dur).toFixed(4)})`;
	});

	boot();
})();
