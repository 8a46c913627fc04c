/*
 * kirim console: the campaign wizard (#/campaigns/new), a campaign's report
 * (#/campaigns/NAME/report) and segments (#/segments, #/segments/NAME). Loaded after
 * console.js and built with its helpers (h, api, page, field, table, say, can); every
 * change goes through the API the CLI's calls sit behind: POST /api/campaigns, its
 * /schedule, /api/segments and its count. Text only (textContent), charts as SVG
 * elements with their numbers also in a table.
 */
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/* s(tag, attrs, ...children) - an SVG element (h builds HTML ones) */
function s(tag, attrs, ...kids) {
	const e = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (k === "text") e.textContent = v;
		else e.setAttribute(k, v);
	}
	for (const k of kids.flat()) if (k) e.append(k);
	return e;
}

/*
 * bars(title, rows) - a horizontal bar chart of [label, value] as SVG: the bars scale to
 * the largest value; a title for screen readers, which also get the same numbers in the
 * table beside it (so the chart itself is an image with a name).
 */
function bars(title, rows, id) {
	const row = 30, labelW = 165, width = 480;
	const max = Math.max(1, ...rows.map((r) => r[1]));
	const g = rows.map(([label, v], i) => {
		const w = Math.round(((width - labelW - 70) * v) / max);
		return s("g", { transform: "translate(0," + i * row + ")" },
			s("text", { x: "0", y: "18", class: "bar-label", text: label.length > 22 ? label.slice(0, 21) + "…" : label }),
			s("rect", { x: String(labelW), y: "4", width: String(Math.max(w, v ? 2 : 0)), height: "18", class: "bar" }),
			s("text", { x: String(labelW + w + 6), y: "18", class: "bar-value", text: num(v) }));
	});
	const tid = (id || "chart") + "-title";
	return h("figure", { class: "chart", id },
		s("svg", { viewBox: "0 0 " + width + " " + Math.max(row, rows.length * row), role: "img",
			"aria-labelledby": tid, preserveAspectRatio: "xMinYMin meet" },
			s("title", { id: tid, text: title }), g),
		h("figcaption", { class: "muted", text: title }));
}

/* some(...kids) - the kids that are there (page() and append() would write "null") */
const some = (...kids) => kids.filter((k) => k !== null && k !== undefined && k !== false);

const utc = (t) => (t ? String(t).replace("T", " ").replace("Z", " UTC") : "–");

function duration(sec) {
	if (sec === null || sec === undefined) return "–";
	if (sec < 60) return Math.max(0, Math.round(sec)) + " s";
	if (sec < 3600) return Math.round(sec / 60) + " min";
	if (sec < 86400 * 2) return (sec / 3600).toFixed(1) + " h";
	return (sec / 86400).toFixed(1) + " days";
}

/* ---- the campaign wizard -------------------------------------------------------------- */

const STEPS = ["Audience", "Template", "Sender", "Tracking", "Schedule", "Confirm"];

/* windowText(days, from, until) - a send window as kirim writes it: "Mon-Fri 08:00-18:00" */
function windowText(days, from, until) {
	const idx = DAYS.map((d, i) => (days.includes(d) ? i : -1)).filter((i) => i >= 0);
	const runs = [];
	for (const i of idx) {
		const last = runs[runs.length - 1];
		if (last && last[1] === i - 1) last[1] = i;
		else runs.push([i, i]);
	}
	const dayText = idx.length === 7 ? "" : runs.map(([a, b]) =>
		a === b ? DAYS[a] : b === a + 1 ? DAYS[a] + "," + DAYS[b] : DAYS[a] + "-" + DAYS[b]).join(",") + " ";
	return dayText + from + "-" + until;
}

async function campaignWizard() {
	if (!can("editor")) {
		page("New campaign", h("p", { text: "Making a campaign needs the editor role." }));
		return;
	}
	const [lists, segs, tpls] = await Promise.all([api("GET", "/api/lists?limit=1000"),
		api("GET", "/api/segments"), api("GET", "/api/templates?limit=1000")]);
	const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
	const w = {
		step: 0, kind: lists.items.length ? "list" : "segment", audience: "", template: "", name: "",
		from: "", fromName: "", replyTo: "", opens: false, clicks: false, when: "now", at: "",
		tz: zone, windowOn: false, days: DAYS.slice(0, 5), winFrom: "08:00", winUntil: "18:00",
		created: null, plan: null,
	};
	const box = h("div", { id: "wizard" });
	page("New campaign", h("ol", { class: "steps", id: "wizard-steps" }), box);
	const show = () => drawStep(w, box, { lists, segs, tpls });
	show();
}

function drawStep(w, box, data) {
	const steps = document.getElementById("wizard-steps");
	steps.replaceChildren(...STEPS.map((name, i) => h("li", {
		class: i === w.step ? "now" : i < w.step ? "done" : null,
		"aria-current": i === w.step ? "step" : null,
	}, h("span", { class: "visually-hidden", text: i < w.step ? "done: " : "" }), name)));
	const next = () => { w.step++; drawStep(w, box, data); };
	const back = () => { w.step--; drawStep(w, box, data); };
	const form = h("form", { class: "stack", id: "wizard-form", novalidate: true });
	const buttons = (label) => h("div", { class: "actions" },
		w.step > 0 && !(w.created && w.step <= 4) ? h("button", { type: "button", class: "quiet", id: "wizard-back", text: "Back", onclick: back }) : null,
		h("button", { type: "submit", id: "wizard-next", text: label || "Next" }));
	const fail = (msg, input) => { say(msg, true); if (input) input.focus(); return false; };
	let check = () => true;
	const heading = h("h2", { id: "wizard-h", tabindex: "-1", text: "Step " + (w.step + 1) + " of " + STEPS.length + ": " + STEPS[w.step] });

	if (w.step === 0) {
		const kind = h("select", { id: "wiz-kind", name: "kind" },
			h("option", { value: "list", selected: w.kind === "list", text: "A list" }),
			h("option", { value: "segment", selected: w.kind === "segment", text: "A segment" }));
		const who = h("select", { id: "wiz-audience", name: "audience", required: true });
		const size = h("p", { id: "wiz-audience-size", class: "muted", "aria-live": "polite" });
		const fill = () => {
			const items = kind.value === "list" ? data.lists.items : data.segs.items;
			who.replaceChildren(h("option", { value: "", text: "Choose one" }),
				...items.map((x) => h("option", { value: x.name, selected: x.name === w.audience, text: x.name })));
		};
		const sizeOf = async () => {
			size.textContent = "";
			if (!who.value) return;
			if (kind.value === "list") {
				const l = data.lists.items.find((x) => x.name === who.value);
				size.textContent = num(l.members) + " members, " + num(l.suppressed) + " of them suppressed.";
			} else {
				const g = await api("GET", "/api/segments/" + enc(who.value));
				size.textContent = num(g.contacts) + " contacts now, " + num(g.suppressed) + " of them suppressed (counted again when it sends).";
			}
		};
		kind.addEventListener("change", () => { w.audience = ""; fill(); sizeOf(); });
		who.addEventListener("change", () => sizeOf().catch((e) => say(e.message, true)));
		fill();
		sizeOf().catch(() => {});
		form.append(field("Send to", kind), field("Which one", who), size);
		check = () => {
			if (!who.value) return fail("Choose the " + kind.value + " to send to.", who);
			w.kind = kind.value;
			w.audience = who.value;
			return true;
		};
	} else if (w.step === 1) {
		const tpl = h("select", { id: "wiz-template", name: "template", required: true },
			h("option", { value: "", text: "Choose one" }),
			data.tpls.items.map((t) => h("option", { value: t.name, selected: t.name === w.template, text: t.name })));
		const name = h("input", { id: "wiz-name", name: "name", required: true, value: w.name, maxlength: "127", autocomplete: "off" });
		form.append(field("Template", tpl, "its latest version"), field("Campaign name", name, "how kirim and its reports call it"));
		check = () => {
			if (!tpl.value) return fail("Choose a template.", tpl);
			if (!name.value.trim()) return fail("Give the campaign a name.", name);
			w.template = tpl.value;
			w.name = name.value.trim();
			return true;
		};
	} else if (w.step === 2) {
		const fname = h("input", { id: "wiz-from-name", name: "from_name", value: w.fromName, autocomplete: "off" });
		const from = h("input", { id: "wiz-from", name: "from", type: "email", required: true, value: w.from, autocomplete: "off" });
		const reply = h("input", { id: "wiz-reply-to", name: "reply_to", type: "email", value: w.replyTo, autocomplete: "off" });
		form.append(field("From name", fname, "optional: the name people see"),
			field("From address", from, "an address of a domain you send for"),
			field("Reply-To address", reply, "optional: where replies go"));
		check = () => {
			if (!from.value.includes("@")) return fail("Give the From address.", from);
			w.fromName = fname.value.trim();
			w.from = from.value.trim();
			w.replyTo = reply.value.trim();
			return true;
		};
	} else if (w.step === 3) {
		const opens = h("input", { id: "wiz-opens", type: "checkbox", checked: w.opens });
		const clicks = h("input", { id: "wiz-clicks", type: "checkbox", checked: w.clicks });
		form.append(h("fieldset", {}, h("legend", { text: "Track" }),
			h("label", { class: "check" }, opens, "Opens (a pixel in the HTML part)"),
			h("label", { class: "check" }, clicks, "Clicks (links rewritten through kirim serve)")),
			h("p", { class: "muted", text: "The next step saves the campaign as a draft." }));
		check = async () => {
			w.opens = opens.checked;
			w.clicks = clicks.checked;
			if (w.created) return true;
			/* POST /api/campaigns: the draft (the call kirim campaign create makes). */
			const body = {
				name: w.name, template: w.template, track_opens: w.opens, track_clicks: w.clicks,
				from: w.fromName ? w.fromName.replace(/[<>"]/g, "") + " <" + w.from + ">" : w.from,
			};
			if (w.kind === "list") body.list = w.audience;
			else body.audience = [{ kind: "segment", name: w.audience }];
			if (w.replyTo) body.reply_to = w.replyTo;
			try {
				w.created = await api("POST", "/api/campaigns", body);
				say("Saved as draft " + w.name + ".");
				return true;
			} catch (e) {
				return fail(e.message);
			}
		};
	} else if (w.step === 4) {
		const now = h("input", { id: "wiz-now", type: "radio", name: "when", value: "now", checked: w.when === "now" });
		const later = h("input", { id: "wiz-later", type: "radio", name: "when", value: "at", checked: w.when === "at" });
		const at = h("input", { id: "wiz-at", name: "at", type: "datetime-local", value: w.at });
		let zones = [];
		try { zones = Intl.supportedValuesOf("timeZone"); } catch (e) { zones = []; }
		if (!zones.includes("UTC")) zones.unshift("UTC");
		if (!zones.includes(w.tz)) zones.unshift(w.tz);
		const tz = h("select", { id: "wiz-tz", name: "tz" }, zones.map((z) => h("option", { value: z, selected: z === w.tz, text: z })));
		const winOn = h("input", { id: "wiz-window-on", type: "checkbox", checked: w.windowOn });
		const days = DAYS.map((d) => h("input", { id: "wiz-day-" + d, type: "checkbox", value: d, checked: w.days.includes(d) }));
		const wf = h("input", { id: "wiz-win-from", type: "time", value: w.winFrom });
		const wu = h("input", { id: "wiz-win-until", type: "time", value: w.winUntil });
		const winText = h("p", { id: "wiz-window-text", class: "muted", "aria-live": "polite" });
		const winBox = h("div", { class: "window", id: "wiz-window" },
			h("fieldset", { class: "days" }, h("legend", { text: "Days" }),
				days.map((c, i) => h("label", { class: "check" }, c, DAYS[i]))),
			h("div", { class: "inline-fields" }, field("From", wf), field("Until", wu)), winText);
		const sync = () => {
			at.disabled = !later.checked;
			winBox.hidden = !winOn.checked;
			const picked = days.filter((c) => c.checked).map((c) => c.value);
			winText.textContent = "Window: " + windowText(picked, wf.value, wu.value) + " in each recipient's zone, else " + tz.value + ".";
		};
		for (const e of [now, later, winOn, wf, wu, tz, ...days]) e.addEventListener("change", sync);
		form.append(h("fieldset", {}, h("legend", { text: "When" }),
			h("label", { class: "check" }, now, "Now"),
			h("label", { class: "check" }, later, "At a time")),
			field("Date and time", at), field("Time zone", tz, "the zone of the time and of the send window"),
			h("label", { class: "check" }, winOn, "Send only within a window"), winBox);
		sync();
		check = async () => {
			w.when = later.checked ? "at" : "now";
			w.at = at.value;
			w.tz = tz.value;
			w.windowOn = winOn.checked;
			w.days = days.filter((c) => c.checked).map((c) => c.value);
			w.winFrom = wf.value;
			w.winUntil = wu.value;
			if (w.when === "at" && !w.at) return fail("Give the date and time to send at.", at);
			if (w.windowOn && (!w.days.length || !w.winFrom || !w.winUntil))
				return fail("A window needs days and both times.", winOn);
			try {
				/* The estimate kirim campaign plan makes, per destination. */
				w.plan = await api("GET", "/api/campaigns/" + enc(w.name) + "/plan");
				return true;
			} catch (e) {
				return fail(e.message);
			}
		};
	} else {
		const p = w.plan;
		const win = w.windowOn ? windowText(w.days, w.winFrom, w.winUntil) : null;
		form.append(...some(h("dl", { class: "facts", id: "wizard-summary" },
			h("dt", { text: "Campaign" }), h("dd", { text: w.name + " (draft)" }),
			h("dt", { text: "Audience" }), h("dd", { text: w.kind + " " + w.audience }),
			h("dt", { text: "Template" }), h("dd", { text: w.template }),
			h("dt", { text: "From" }), h("dd", { text: (w.fromName ? w.fromName + " " : "") + "<" + w.from + ">" }),
			h("dt", { text: "Reply-To" }), h("dd", { text: w.replyTo || "none" }),
			h("dt", { text: "Tracking" }), h("dd", { text: [w.opens && "opens", w.clicks && "clicks"].filter(Boolean).join(", ") || "none" }),
			h("dt", { text: "When" }), h("dd", { text: w.when === "now" ? "now" : w.at.replace("T", " ") + " " + w.tz }),
			h("dt", { text: "Window" }), h("dd", { text: win ? win + " (" + w.tz + ")" : "any time" })),
			h("h3", { text: "The plan" }),
			h("p", { id: "wizard-plan-total" }, num(p.messages) + " messages; all sent in about " + duration(p.eta_seconds) +
				" at the limits now" + (p.bottleneck ? ", held back most by " + p.bottleneck : "") + "."),
			table("Estimate per destination", [
				{ label: "Destination", get: (d) => d.key },
				{ label: "Messages", num: true, get: (d) => num(d.messages) },
				{ label: "Rate (msg/s)", num: true, get: (d) => num(Math.round(d.rate * 100) / 100) },
				{ label: "Connections", num: true, get: (d) => num(d.connections) },
				{ label: "Bound by", get: (d) => d.bound },
				{ label: "Takes", num: true, get: (d) => duration(d.eta_seconds) },
			], p.destinations || [], "wizard-plan"),
			p.unresolved_messages || p.dead_messages ? h("p", { class: "muted", text:
				num(p.unresolved_messages) + " messages to domains not looked up, " + num(p.dead_messages) + " to domains that take no mail." }) : null));
		check = async () => {
			const body = { tz: w.tz };
			if (w.when === "now") body.now = true;
			else body.at = w.at.replace("T", " ");
			if (w.windowOn) body.window = windowText(w.days, w.winFrom, w.winUntil);
			try {
				/* POST /api/campaigns/NAME/schedule: kirim campaign schedule's move. */
				const v = await api("POST", "/api/campaigns/" + enc(w.name) + "/schedule", body);
				say("Campaign " + w.name + " is " + v.state + (v.recipients !== undefined ? " for " + num(v.recipients) + " recipients" : "") + ".");
				location.hash = "#/campaigns/" + enc(w.name);
				return false;
			} catch (e) {
				return fail(e.message);
			}
		};
	}
	form.prepend(heading);
	form.append(buttons(w.step === 3 ? "Save draft and continue" : w.step === 4 ? "See the plan" : w.step === 5 ? "Schedule campaign" : null));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const b = form.querySelector("#wizard-next");
		b.disabled = true;
		try {
			if (await check()) {
				if (w.step !== 3 && w.step !== 4) say("");
				next();
			}
		} finally {
			b.disabled = false;
		}
	});
	box.replaceChildren(form);
	if (w.step > 0) heading.focus();
	main().setAttribute("data-step", String(w.step));
}

/* ---- the report ----------------------------------------------------------------------- */

async function campaignReport(name) {
	const r = await api("GET", "/api/campaigns/" + enc(name) + "/report");
	const c = r.campaign, m = r.messages, k = m.counts, sm = r.summary;
	const base = "/api/campaigns/" + enc(name);
	const card = (label, n, note) => h("li", {}, h("span", { class: "n", text: num(n) }),
		h("span", { class: "k", text: label }), note ? h("span", { class: "k note", text: note + " of " + (label === "delivered" ? "all" : "delivered") }) : null);
	const pct = (v) => (v === null || v === undefined ? "–" : v + "%");
	const rates = sm.rates_of_delivered || {};
	const outcomes = Object.entries(k).map(([key, v]) => [key.replace("_", " "), v]);
	page("Report: " + c.name, ...some(
		h("p", {}, h("a", { href: "#/campaigns/" + enc(name), text: "Live page" }),
			" · state " + c.state + " · subject “" + (c.subject || "") + "”"),
		h("h2", { text: "Downloads" }),
		h("ul", { class: "downloads", id: "downloads" },
			h("li", {}, h("a", { id: "dl-report-csv", href: base + "/report?format=csv", download: name + "-report.csv", text: "Report (CSV, by domain)" })),
			h("li", {}, h("a", { id: "dl-report-json", href: base + "/report?format=json", download: name + "-report.json", text: "Report (JSON)" })),
			h("li", {}, h("a", { id: "dl-log-csv", href: base + "/log", download: name + "-attempts.csv", text: "Every delivery attempt (CSV)" }))),
		h("h2", { text: "Totals" }),
		h("ul", { class: "cards", id: "report-cards" },
			card("messages", m.total), card("delivered", k.delivered, pct(m.pct_of_total && m.pct_of_total.delivered)),
			card("bounced", k.bounced_hard + k.bounced_soft), card("failed", k.failed),
			card("unique opens", sm.opens.unique_human, pct(rates.opens)),
			card("unique clicks", sm.clicks.unique, pct(rates.clicks)),
			card("unsubscribes", sm.unsubscribes, pct(rates.unsubscribes)),
			card("complaints", sm.complaints, pct(rates.complaints))),
		h("h2", { text: "Outcomes" }),
		h("div", { class: "split" },
			bars("Messages by outcome", outcomes, "chart-outcomes"),
			table("Messages by outcome", [
				{ label: "Outcome", get: (e) => e[0] },
				{ label: "Messages", num: true, get: (e) => num(e[1]) },
				{ label: "Of all", num: true, get: (e) => pct(m.pct_of_total && m.pct_of_total[e[0].replace(" ", "_")]) },
			], outcomes, "report-outcomes")),
		h("h2", { text: "Engagement" }),
		h("dl", { class: "facts", id: "report-engagement" },
			h("dt", { text: "Opens" }), h("dd", { text: num(sm.opens.human) + " by people (" + num(sm.opens.unique_human) + " unique), " + num(sm.opens.machine) + " by machines" }),
			h("dt", { text: "Clicks" }), h("dd", { text: num(sm.clicks.total) + " (" + num(sm.clicks.unique) + " unique)" }),
			h("dt", { text: "Unsubscribes" }), h("dd", { text: num(sm.unsubscribes) }),
			h("dt", { text: "Complaints" }), h("dd", { text: num(sm.complaints) }),
			h("dt", { text: "First delivery" }), h("dd", { text: utc(sm.first_delivery) }),
			h("dt", { text: "Last delivery" }), h("dd", { text: utc(sm.last_delivery) })),
		h("h2", { text: "Clicks by link" }),
		(r.links || []).length ? bars("Unique clicks by link", r.links.map((l) => [l.link || l.url, l.unique_clicks]), "chart-links") : null,
		table("Clicks by link, most unique first", [
			{ label: "Link", get: (l) => l.link || "–" },
			{ label: "URL", get: (l) => l.url },
			{ label: "Unique", num: true, get: (l) => num(l.unique_clicks) },
			{ label: "Total", num: true, get: (l) => num(l.total_clicks) },
		], r.links || [], "report-links"),
		h("h2", { text: "By domain" }),
		(r.domains || []).length ? bars("Messages delivered by domain", r.domains.map((d) => [d.key, d.counts.delivered]), "chart-domains") : null,
		table("Outcomes by recipient domain", [
			{ label: "Domain", get: (d) => d.key },
			{ label: "Messages", num: true, get: (d) => num(d.messages) },
			{ label: "Delivered", num: true, get: (d) => num(d.counts.delivered) },
			{ label: "Bounced", num: true, get: (d) => num(d.counts.bounced_hard + d.counts.bounced_soft) },
			{ label: "Failed", num: true, get: (d) => num(d.counts.failed) },
			{ label: "Deferrals", num: true, get: (d) => num(d.deferrals) },
			{ label: "Delivered of tried", num: true, get: (d) => pct(d.delivered_pct_of_attempted) },
		], r.domains || [], "report-domains"),
		h("h2", { text: "By reason" }),
		table("Bounces and failures by reason", [
			{ label: "Outcome", get: (x) => x.outcome },
			{ label: "Reason", get: (x) => x.reason },
			{ label: "Code", get: (x) => [x.code, x.ecode].filter(Boolean).join(" ") || "–" },
			{ label: "Count", num: true, get: (x) => num(x.count) },
			{ label: "Example", get: (x) => x.example || "–" },
		], r.reasons || [], "report-reasons"),
		table("Not sent, by reason", [
			{ label: "Category", get: (x) => x.category },
			{ label: "Reason", get: (x) => x.reason },
			{ label: "Messages", num: true, get: (x) => num(x.count) },
		], m.not_sent || [], "report-not-sent")));
}

/* ---- segments ------------------------------------------------------------------------- */

/*
 * liveCount(input, out) - count input's condition as one types: 400 ms after the last
 * key, POST /api/segments/count (kirim segment count's call); an answer that comes back
 * after a newer question is dropped.
 */
function liveCount(input, out) {
	let timer = null, asked = 0;
	const ask = async () => {
		const n = ++asked;
		const expr = input.value.trim();
		if (!expr) {
			out.textContent = "Write a condition to see how many contacts it matches.";
			out.className = "count muted";
			return;
		}
		try {
			const v = await api("POST", "/api/segments/count", { expression: expr });
			if (n !== asked) return;
			out.textContent = num(v.contacts) + " contacts match now (" + num(v.suppressed) + " of them suppressed).";
			out.className = "count";
		} catch (e) {
			if (n !== asked) return;
			out.textContent = e.message;
			out.className = "count error";
		}
	};
	input.addEventListener("input", () => {
		clearTimeout(timer);
		timer = setTimeout(ask, 400);
	});
	ask();
}

function segmentForm(seg) {
	const editor = can("editor");
	const name = seg ? null : h("input", { id: "segment-name", name: "name", required: true, autocomplete: "off" });
	const expr = h("textarea", { id: "segment-expression", name: "expression", rows: "4", required: true,
		readonly: !editor, spellcheck: "false", "aria-describedby": "segment-count segment-help" });
	expr.value = seg ? seg.expression : "";
	const out = h("p", { id: "segment-count", class: "count muted", role: "status", "aria-live": "polite" });
	const form = h("form", { class: "stack wide", id: "segment-form" },
		name ? field("Name", name) : null,
		field("Condition", expr),
		h("p", { id: "segment-help", class: "hint muted" },
			"For example list(\"news\") and city = \"Oslo\" and not opened(any, 90d). The language is in docs/segments.md."),
		out,
		editor ? h("div", { class: "actions" }, h("button", { type: "submit", text: seg ? "Save" : "Create segment" }),
			seg ? h("button", { type: "button", class: "danger", id: "segment-delete", text: "Delete", onclick: async () => {
				if (!window.confirm("Delete segment " + seg.name + "?")) return;
				try {
					await api("DELETE", "/api/segments/" + enc(seg.name));
					say("Segment " + seg.name + " deleted.");
					location.hash = "#/segments";
				} catch (e) {
					say(e.message, true);
				}
			} }) : null) : h("p", { class: "muted", text: "Only an editor may change segments." }));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		try {
			const v = seg ? await api("PUT", "/api/segments/" + enc(seg.name), { expression: expr.value })
				: await api("POST", "/api/segments", { name: name.value.trim(), expression: expr.value });
			say("Segment " + v.name + " saved: " + num(v.contacts) + " contacts now.");
			if (seg) route(true);
			else location.hash = "#/segments/" + enc(v.name);
		} catch (e) {
			say(e.message, true);
		}
	});
	liveCount(expr, out);
	return form;
}

async function segments() {
	const l = await api("GET", "/api/segments");
	page("Segments", ...some(
		table("Segments by name", [
			{ label: "Segment", get: (x) => h("a", { href: "#/segments/" + enc(x.name), text: x.name }) },
			{ label: "Condition", get: (x) => h("code", { text: x.expression }) },
			{ label: "Changed (UTC)", get: (x) => x.updated_at.replace("T", " ").replace("Z", "") },
		], l.items, "segment-list"),
		can("editor") ? h("h2", { text: "New segment" }) : null,
		can("editor") ? segmentForm(null) : null));
}

async function segment(name) {
	const g = await api("GET", "/api/segments/" + enc(name));
	page("Segment " + g.name,
		h("dl", { class: "facts" },
			h("dt", { text: "Contacts now" }), h("dd", { id: "segment-contacts", text: num(g.contacts) + " (" + num(g.suppressed) + " suppressed)" }),
			h("dt", { text: "Changed (UTC)" }), h("dd", { text: g.updated_at.replace("T", " ").replace("Z", "") })),
		h("h2", { text: can("editor") ? "Edit" : "Condition" }),
		segmentForm(g));
}
