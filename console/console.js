/*
 * kirim console: a page per hash route (#/, #/campaigns, #/campaigns/NAME, #/lists,
 * #/contacts, #/contacts/EMAIL, #/suppressions, #/domains, #/domains/PATTERN), each
 * drawn from kirim's HTTP API with the session cookie. Changes send the session's
 * CSRF token in X-CSRF-Token; the server checks it, the Origin and the role, so
 * hiding a control here is a courtesy, never the protection. The DOM is built with
 * textContent only: nothing from the API is parsed as HTML.
 */
"use strict";

const state = { session: null, timer: null };

/* h(tag, attrs, ...children) - an element; children are nodes or text */
function h(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k === "text") e.textContent = v;
		else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
		else e.setAttribute(k, v === true ? "" : v);
	}
	for (const k of kids.flat()) {
		if (k === null || k === undefined || k === false) continue;
		e.append(k instanceof Node ? k : document.createTextNode(String(k)));
	}
	return e;
}

const main = () => document.getElementById("main");
const num = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en"));
const enc = encodeURIComponent;
const can = (role) => {
	const rank = { viewer: 1, editor: 2, admin: 3 };
	return state.session && rank[state.session.role] >= rank[role];
};

function say(text, error) {
	const s = document.getElementById("status");
	s.textContent = text || "";
	s.className = error ? "status error" : "status";
}

class ApiError extends Error {
	constructor(status, detail) {
		super(detail);
		this.status = status;
	}
}

/* api(method, path, body) - the API's answer as JSON (null for 204); throws ApiError */
async function api(method, path, body) {
	const headers = { Accept: "application/json" };
	if (body !== undefined) headers["Content-Type"] = "application/json";
	if (method !== "GET" && state.session) headers["X-CSRF-Token"] = state.session.csrf;
	const r = await fetch(path, {
		method,
		headers,
		body: body === undefined ? undefined : JSON.stringify(body),
		credentials: "same-origin",
	});
	const text = await r.text();
	const v = text ? JSON.parse(text) : null;
	if (!r.ok) {
		if (r.status === 401 && state.session && path !== "/console/api/login") {
			state.session = null;
			showLogin("Your session has ended: log in again.");
		}
		throw new ApiError(r.status, (v && v.detail) || r.statusText);
	}
	return v;
}

function table(caption, cols, rows, id) {
	return h("div", { class: "scroll", id, tabindex: "0", role: "region", "aria-label": caption },
		h("table", {},
			h("caption", { class: "muted", text: caption }),
			h("thead", {}, h("tr", {}, cols.map((c) =>
				h("th", { scope: "col", class: c.num ? "num" : null, text: c.label })))),
			h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, cols.map((c) => {
				const v = c.get(r);
				return h("td", { class: c.num ? "num" : null }, v instanceof Node ? v : String(v ?? "–"));
			}))) : h("tr", {}, h("td", { colspan: cols.length, class: "muted", text: "None." })))));
}

function page(title, ...kids) {
	document.title = title + " · kirim console";
	const m = main();
	m.replaceChildren(h("h1", { text: title }), ...kids);
}

function field(label, input, hint) {
	return h("label", {}, label, hint ? h("span", { class: "hint", text: hint }) : null, input);
}

/* ---- login ---------------------------------------------------------------------------- */

function showLogin(message) {
	document.getElementById("nav").hidden = true;
	document.getElementById("who").hidden = true;
	const name = h("input", { id: "login-name", name: "name", autocomplete: "username", required: true });
	const pw = h("input", { id: "login-password", name: "password", type: "password",
		autocomplete: "current-password", required: true });
	const form = h("form", { class: "stack", id: "login-form" },
		field("User name", name), field("Password", pw),
		h("div", { class: "actions" }, h("button", { type: "submit", text: "Log in" })));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		try {
			state.session = await api("POST", "/console/api/login", { name: name.value, password: pw.value });
			say("");
			started();
		} catch (e) {
			say(e.message, true);
			pw.value = "";
			pw.focus();
		}
	});
	document.title = "Log in · kirim console";
	main().replaceChildren(h("section", { class: "login", "aria-labelledby": "login-h" },
		h("h1", { id: "login-h", text: "Log in to kirim" }), form));
	say(message || "", !!message);
	name.focus();
}

function started() {
	document.getElementById("nav").hidden = false;
	document.getElementById("who").hidden = false;
	document.getElementById("who-name").textContent = state.session.name + " (" + state.session.role + ")";
	route();
}

/* ---- pages ---------------------------------------------------------------------------- */

async function dashboard() {
	// The 30 days' totals come from one request (the days' events), not a report per
	// campaign.
	const [status, camps, lists, stats] = await Promise.all([
		api("GET", "/api/status"), api("GET", "/api/campaigns?limit=1000"), api("GET", "/api/lists?limit=1000"),
		api("GET", "/api/stats?days=30")]);
	const by = {};
	for (const c of camps.items) by[c.state] = (by[c.state] || 0) + 1;
	const t = stats.totals;
	const card = (k, n) => h("li", {}, h("span", { class: "n", text: num(n) }), h("span", { class: "k", text: k }));
	page("Dashboard",
		h("h2", { text: "Campaigns" }),
		h("ul", { class: "cards", id: "campaign-cards" },
			card("sending", by.sending || 0), card("scheduled", by.scheduled || 0),
			card("paused", by.paused || 0), card("done", by.done || 0), card("drafts", by.draft || 0)),
		h("h2", { text: "Last 30 days" }),
		h("p", { class: "muted", text: "Every campaign, the last 30 days (UTC): deliveries, bounces, complaints and unsubscribes recorded in them." }),
		h("ul", { class: "cards", id: "month-cards" },
			card("delivered", t.delivered), card("bounced", t.bounced),
			card("complaints", t.complaints), card("unsubscribes", t.unsubscribes)),
		h("h2", { text: "Lists" }),
		table("Lists and their sizes", [
			{ label: "List", get: (l) => h("a", { href: "#/contacts?list=" + enc(l.name), text: l.name }) },
			{ label: "Members", num: true, get: (l) => num(l.members) },
			{ label: "Suppressed", num: true, get: (l) => num(l.suppressed) },
		], lists.items),
		h("h2", { text: "Throttled destinations" }),
		table("Destinations slowed down now", [
			{ label: "Destination", get: (d) => d.destination },
			{ label: "Rate now", get: (d) => d.rate },
			{ label: "Connections", num: true, get: (d) => num(d.connections) },
			{ label: "Slowdowns", num: true, get: (d) => num(d.slowdowns) },
		], status.destinations || []));
}

async function campaigns() {
	const list = await api("GET", "/api/campaigns?limit=1000");
	page("Campaigns", table("Campaigns, newest first", [
		{ label: "Campaign", get: (c) => h("a", { href: "#/campaigns/" + enc(c.name), text: c.name }) },
		{ label: "State", get: (c) => c.state },
		{ label: "List", get: (c) => c.list },
		{ label: "Template", get: (c) => c.template + " v" + c.template_version },
		{ label: "Created (UTC)", get: (c) => c.created_at.replace("T", " ").replace("Z", "") },
	], list.items));
}

const MOVES = {
	pause: ["sending", "scheduled"],
	resume: ["paused"],
	cancel: ["draft", "scheduled", "sending", "paused"],
};

async function campaign(name) {
	const r = await api("GET", "/api/campaigns/" + enc(name) + "/report");
	const c = r.campaign, m = r.messages, k = m.counts;
	const settled = k.delivered + k.bounced_hard + k.bounced_soft + k.failed + k.suppressed + k.cancelled;
	const pct = m.total ? Math.round((settled * 100) / m.total) : 0;
	const actions = h("div", { class: "actions" });
	if (can("editor")) {
		for (const [verb, from] of Object.entries(MOVES)) {
			if (!from.includes(c.state)) continue;
			actions.append(h("button", {
				type: "button", id: "do-" + verb, class: verb === "cancel" ? "danger" : null,
				text: verb[0].toUpperCase() + verb.slice(1),
				onclick: async () => {
					if (verb === "cancel" && !window.confirm("Cancel campaign " + name + "? Messages not sent yet are dropped."))
						return;
					try {
						const body = verb === "cancel" ? { confirm: true } : {};
						const v = await api("POST", "/api/campaigns/" + enc(name) + "/" + verb, body);
						say("Campaign " + name + " is " + v.state + ".");
						route();
					} catch (e) {
						say(e.message, true);
					}
				},
			}));
		}
	}
	page("Campaign " + c.name,
		h("dl", { class: "facts" },
			h("dt", { text: "State" }), h("dd", { class: "state", id: "campaign-state", text: c.state + (c.state_reason ? " (" + c.state_reason + ")" : "") }),
			h("dt", { text: "List" }), h("dd", { text: c.list }),
			h("dt", { text: "Template" }), h("dd", { text: c.template.name + " v" + c.template.version }),
			h("dt", { text: "From" }), h("dd", { text: c.from }),
			h("dt", { text: "Rate" }), h("dd", { text: num(r.summary.per_minute_avg) + "/min on average, peak " + num(r.summary.per_minute_peak) + "/min" })),
		actions,
		h("p", {}, h("a", { href: "#/campaigns/" + enc(name) + "/report", id: "report-link", text: "Report, charts and downloads" })),
		h("h2", { text: "Progress" }),
		h("label", { for: "progress" }, settled.toLocaleString("en") + " of " + m.total.toLocaleString("en") + " messages settled (" + pct + "%)"),
		h("progress", { id: "progress", max: String(m.total || 1), value: String(settled) }),
		table("Messages by outcome", [
			{ label: "Outcome", get: (e) => e[0].replace("_", " ") },
			{ label: "Messages", num: true, get: (e) => num(e[1]) },
		], Object.entries(k), "outcomes"),
		h("h2", { text: "By domain" }),
		table("Outcomes by recipient domain", [
			{ label: "Domain", get: (d) => d.key },
			{ label: "Delivered", num: true, get: (d) => num(d.counts.delivered) },
			{ label: "Bounced", num: true, get: (d) => num(d.counts.bounced_hard + d.counts.bounced_soft) },
			{ label: "Deferrals", num: true, get: (d) => num(d.deferrals) },
			{ label: "Messages", num: true, get: (d) => num(d.messages) },
		], r.domains || [], "by-domain"),
		h("h2", { text: "By reason" }),
		table("Bounces and failures by reason", [
			{ label: "Outcome", get: (x) => x.outcome },
			{ label: "Reason", get: (x) => x.reason },
			{ label: "Code", get: (x) => [x.code, x.ecode].filter(Boolean).join(" ") },
			{ label: "Messages", num: true, get: (x) => num(x.count) },
		], r.reasons || [], "by-reason"));
	/* A live page: while the campaign moves, read it again every 5 s. */
	if (["sending", "scheduled"].includes(c.state))
		state.timer = setTimeout(() => route(true), 5000);
}

async function lists() {
	const l = await api("GET", "/api/lists?limit=1000");
	page("Lists", table("Lists by name", [
		{ label: "List", get: (x) => h("a", { href: "#/contacts?list=" + enc(x.name), text: x.name }) },
		{ label: "Members", num: true, get: (x) => num(x.members) },
		{ label: "Suppressed", num: true, get: (x) => num(x.suppressed) },
		{ label: "Created (UTC)", get: (x) => x.created_at.replace("T", " ").replace("Z", "") },
	], l.items));
}

async function contacts(query) {
	const q = new URLSearchParams(query);
	const params = new URLSearchParams({ limit: "100" });
	if (q.get("prefix")) params.set("prefix", q.get("prefix"));
	if (q.get("list")) params.set("list", q.get("list"));
	if (q.get("cursor")) params.set("cursor", q.get("cursor"));
	const [l, all] = await Promise.all([api("GET", "/api/contacts?" + params), api("GET", "/api/lists?limit=1000&counts=false")]);
	const prefix = h("input", { id: "search-prefix", name: "prefix", type: "search", value: q.get("prefix") || "" });
	const list = h("select", { id: "search-list", name: "list" }, h("option", { value: "", text: "Any list" }),
		all.items.map((x) => h("option", { value: x.name, selected: x.name === q.get("list"), text: x.name })));
	const form = h("form", { class: "inline", role: "search" },
		field("Address starts with", prefix), field("List", list), h("button", { type: "submit", text: "Search" }));
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		const p = new URLSearchParams();
		if (prefix.value) p.set("prefix", prefix.value);
		if (list.value) p.set("list", list.value);
		location.hash = "#/contacts?" + p;
	});
	const next = new URLSearchParams(q);
	if (l.next_cursor) next.set("cursor", l.next_cursor);
	page("Contacts", form, table("Contacts by address", [
		{ label: "Address", get: (c) => h("a", { href: "#/contacts/" + enc(c.email), text: c.email }) },
		{ label: "Suppressed", get: (c) => c.suppressed || "no" },
		{ label: "Added (UTC)", get: (c) => c.created_at.replace("T", " ").replace("Z", "") },
	], l.items), l.next_cursor ? h("p", {}, h("a", { href: "#/contacts?" + next, text: "Next page" })) : null);
}

async function contact(email) {
	const c = await api("GET", "/api/contacts/" + enc(email));
	page(c.email,
		h("dl", { class: "facts" },
			h("dt", { text: "Domain" }), h("dd", { text: c.domain }),
			h("dt", { text: "Lists" }), h("dd", { text: c.lists.join(", ") || "none" }),
			h("dt", { text: "Suppressed" }), h("dd", { text: c.suppressed ? JSON.stringify(c.suppressed) : "no" }),
			h("dt", { text: "Added (UTC)" }), h("dd", { text: c.created_at }),
			h("dt", { text: "Changed (UTC)" }), h("dd", { text: c.updated_at })),
		h("h2", { text: "Attributes" }),
		table("The contact's attributes", [
			{ label: "Field", get: (a) => a[0] },
			{ label: "Value", get: (a) => (typeof a[1] === "string" ? a[1] : JSON.stringify(a[1])) },
		], Object.entries(c.attrs || {})));
}

async function suppressions() {
	const l = await api("GET", "/api/suppressions?limit=1000");
	let form = null;
	if (can("editor")) {
		const v = h("input", { id: "suppress-value", name: "value", required: true });
		form = h("form", { class: "inline", id: "suppress-form" },
			field("Address or @domain", v, "e.g. ann@example.com or @example.com"),
			h("button", { type: "submit", text: "Suppress" }));
		form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			try {
				await api("POST", "/api/suppressions", { values: [v.value], reason: "manual", source: "console" });
				say(v.value + " suppressed.");
				route();
			} catch (e) {
				say(e.message, true);
			}
		});
	}
	page("Suppressions", form, table("Suppressions, newest first", [
		{ label: "Value", get: (s) => s.value },
		{ label: "Kind", get: (s) => s.kind },
		{ label: "Reason", get: (s) => s.reason },
		{ label: "Since (UTC)", get: (s) => (s.created_at || "").replace("T", " ").replace("Z", "") },
	], l.items));
}

async function domains() {
	const l = await api("GET", "/api/domains?limit=1000");
	page("Domain throttles", table("Domain policies by pattern", [
		{ label: "Pattern", get: (d) => h("a", { href: "#/domains/" + enc(d.pattern), text: d.pattern }) },
		{ label: "Rate", get: (d) => (d.rate ? d.rate.text : "–") },
		{ label: "Connections", num: true, get: (d) => num(d.max_connections) },
		{ label: "Messages per connection", num: true, get: (d) => num(d.max_msgs_per_conn) },
		{ label: "Source", get: (d) => d.source },
	], l.items));
}

async function domain(pattern) {
	const d = await api("GET", "/api/domains/" + enc(pattern));
	const f = d.fields || d;
	const val = (k) => {
		const v = f[k] && typeof f[k] === "object" && "value" in f[k] ? f[k].value : f[k];
		return v && typeof v === "object" ? v.text : v ?? "";
	};
	const rate = h("input", { id: "domain-rate", name: "rate", value: String(val("rate")) });
	const conns = h("input", { id: "domain-conns", name: "max_connections", type: "number", min: "1", value: String(val("max_connections")) });
	const msgs = h("input", { id: "domain-msgs", name: "max_msgs_per_conn", type: "number", min: "1", value: String(val("max_msgs_per_conn")) });
	const form = h("form", { class: "stack", id: "domain-form" },
		field("Rate", rate, "messages per second, minute, hour or day: 10/s, 600/min"),
		field("Connections at once", conns), field("Messages per connection", msgs),
		can("admin") ? h("div", { class: "actions" }, h("button", { type: "submit", text: "Save" }))
			: h("p", { class: "muted", text: "Only an admin may change a domain's policy." }));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		try {
			await api("PATCH", "/api/domains/" + enc(pattern), {
				rate: rate.value, max_connections: Number(conns.value), max_msgs_per_conn: Number(msgs.value) });
			say("Policy for " + pattern + " saved.");
			route();
		} catch (e) {
			say(e.message, true);
		}
	});
	page("Domain " + pattern, form);
}

/* ---- routing -------------------------------------------------------------------------- */

const ROUTES = [
	[/^$/, dashboard, "#/"],
	[/^campaigns$/, campaigns, "#/campaigns"],
	/* console/campaigns.js, loaded after this file: called by name when the route runs. */
	[/^campaigns\/new$/, () => campaignWizard(), "#/campaigns/new"],
	[/^campaigns\/(.+)\/report$/, (n) => campaignReport(n), "#/campaigns"],
	[/^segments$/, () => segments(), "#/segments"],
	[/^segments\/(.+)$/, (n) => segment(n), "#/segments"],
	[/^campaigns\/(.+)$/, campaign, "#/campaigns"],
	[/^lists$/, lists, "#/lists"],
	[/^contacts$/, contacts, "#/contacts"],
	[/^contacts\/(.+)$/, contact, "#/contacts"],
	[/^suppressions$/, suppressions, "#/suppressions"],
	[/^domains$/, domains, "#/domains"],
	[/^domains\/(.+)$/, domain, "#/domains"],
	/* import.js and editor.js, loaded after this file: called by name when routed. */
	[/^import$/, () => importWizard(), "#/import"],
	[/^templates$/, () => templatesPage(), "#/templates"],
	[/^templates\/(.+)$/, (n) => templateEditor(n), "#/templates"],
];

async function route(refresh) {
	clearTimeout(state.timer);
	if (!state.session) return;
	const raw = location.hash.replace(/^#\/?/, "");
	const [path, query] = raw.split("?");
	for (const [re, fn, nav] of ROUTES) {
		const m = path.match(re);
		if (!m) continue;
		for (const a of document.querySelectorAll("#nav a")) {
			if (a.getAttribute("href") === nav) a.setAttribute("aria-current", "page");
			else a.removeAttribute("aria-current");
		}
		try {
			await fn(m[1] !== undefined ? decodeURIComponent(m[1]) : query || "");
			if (!refresh) main().focus();
			main().setAttribute("data-ready", raw);
		} catch (e) {
			if (e instanceof ApiError && e.status === 401) return;
			page("Not shown", h("p", { text: e.message }));
			say(e.message, true);
		}
		return;
	}
	page("Not found", h("p", {}, "No such page. ", h("a", { href: "#/", text: "Go to the dashboard." })));
}

async function start() {
	document.getElementById("logout").addEventListener("click", async () => {
		try {
			await api("POST", "/console/api/logout");
		} catch (e) {
			/* the session is gone either way */
		}
		state.session = null;
		showLogin("You have logged out.");
	});
	window.addEventListener("hashchange", () => {
		say("");
		route();
	});
	try {
		state.session = await api("GET", "/console/api/session");
		started();
	} catch (e) {
		if (!(e instanceof ApiError && e.status === 401)) say(e.message, true);
		if (!state.session) showLogin();
	}
}

/* After every deferred script (import.js, editor.js) has run. */
document.addEventListener("DOMContentLoaded", start);
