/*
 * kirim console: templates (#/templates) and the template editor (#/templates/NAME). The
 * Mustache source (subject, text part, HTML part) sits beside a live preview rendered by
 * kirim's composer through /api/templates/NAME/render from the unsaved draft, for a chosen
 * contact, a moment after each keystroke. The HTML is shown in a sandboxed iframe (no
 * allow-scripts: the message is never run, and has no origin) at desktop or mobile width,
 * filled by posting the draft to /console/api/preview (a form aimed at the frame): a srcdoc
 * or data: frame would inherit the console's policy, which blocks the message's inline
 * styles, while that answer carries a policy of its own (styles and images, no script). Lint (/lint) shows beside the parts after each save; the exact raw message
 * (/message) and proofs to seed addresses (/test, through the configured relay) are a
 * click away. A save sends the ETag it read (If-Match), so another user's newer version is
 * never overwritten unseen. Uses console.js's helpers (h, api, page, field, say, table).
 */
"use strict";

const EDITOR_DEBOUNCE_MS = 350;

/* editorCall(method, path, body, headers) - api() with the response's ETag: {v, etag} */
async function editorCall(method, path, body, headers) {
	const hd = Object.assign({ Accept: "application/json" }, headers || {});
	if (body !== undefined) hd["Content-Type"] = "application/json";
	if (method !== "GET") hd["X-CSRF-Token"] = state.session.csrf;
	const r = await fetch(path, { method, headers: hd, credentials: "same-origin",
		body: body === undefined ? undefined : JSON.stringify(body) });
	const text = await r.text();
	const json = (r.headers.get("Content-Type") || "").startsWith("application/") && text ? JSON.parse(text) : null;
	if (!r.ok) throw new ApiError(r.status, (json && json.detail) || r.statusText);
	return { v: json, text, etag: r.headers.get("ETag") };
}

async function templatesPage() {
	const l = await api("GET", "/api/templates?limit=1000");
	let form = null;
	if (can("editor")) {
		const name = h("input", { id: "new-template-name", name: "name", required: true, maxlength: "120", autocomplete: "off" });
		form = h("form", { class: "inline", id: "new-template-form" },
			field("New template", name, "a name: 1 to 120 characters, no ':'"),
			h("button", { type: "submit", text: "Create" }));
		form.addEventListener("submit", (ev) => {
			ev.preventDefault();
			if (name.value.includes(":")) return say("A template name has no ':'.", true);
			location.hash = "#/templates/" + enc(name.value.trim());
		});
	}
	page("Templates", form, table("Templates by name (the latest version)", [
		{ label: "Template", get: (t) => h("a", { href: "#/templates/" + enc(t.name), text: t.name }) },
		{ label: "Version", num: true, get: (t) => num(t.version) },
		{ label: "Parts", get: (t) => t.parts },
		{ label: "Subject", get: (t) => t.subject },
		{ label: "Saved (UTC)", get: (t) => t.created_at.replace("T", " ").replace("Z", "") },
	], l.items, "templates"));
}

async function templateEditor(name) {
	let t = null, etag = null;
	try {
		const r = await editorCall("GET", "/api/templates/" + enc(name));
		t = r.v;
		etag = r.etag;
	} catch (e) {
		if (!(e instanceof ApiError && e.status === 404)) throw e;
	}
	const editor = can("editor");
	const contacts = await api("GET", "/api/contacts?limit=50");
	const ro = editor ? null : true;
	const subject = h("input", { id: "tpl-subject", name: "subject", value: t ? t.subject : "News for {{first_name|friend}}", readonly: ro, autocomplete: "off" });
	const text = h("textarea", { id: "tpl-text", name: "text", rows: "8", spellcheck: "false", readonly: ro });
	const html = h("textarea", { id: "tpl-html", name: "html", rows: "14", spellcheck: "false", readonly: ro });
	text.value = t ? t.text || "" : "Hi {{first_name|friend}},\n\n...\n\nUnsubscribe: {{unsubscribe_url}}\n";
	html.value = t ? t.html || "" : "<p>Hi {{first_name|friend}},</p>\n<p><a href=\"{{unsubscribe_url}}\">Unsubscribe</a></p>\n";
	const contact = h("select", { id: "tpl-contact", name: "contact" },
		h("option", { value: "", text: "No contact (defaults only)" }),
		contacts.items.map((c) => h("option", { value: c.email, text: c.email })));
	if (contacts.items.length) contact.value = contacts.items[0].email;
	const width = h("select", { id: "tpl-width", name: "width" },
		h("option", { value: "desktop", text: "Desktop (1024 px)" }), h("option", { value: "mobile", text: "Mobile (390 px)" }));
	const frame = h("iframe", { id: "tpl-frame", name: "tpl-frame", title: "Preview of the HTML part", sandbox: "", referrerpolicy: "no-referrer" });
	/* What fills the frame: the draft posted to /console/api/preview, its answer shown there. */
	const sent = {};
	const toFrame = h("form", { id: "tpl-frame-form", method: "post", action: "/console/api/preview", target: "tpl-frame", hidden: true },
		["csrf", "subject", "html", "contact"].map((n) => (sent[n] = h("input", { type: "hidden", name: n }))));
	const box = h("div", { class: "frame-box desktop", id: "tpl-frame-box" }, frame);
	const shownSubject = h("p", { id: "tpl-preview-subject", class: "preview-subject" });
	const shownText = h("pre", { id: "tpl-preview-text", class: "preview-text" });
	const problem = h("p", { id: "tpl-error", class: "error", role: "alert" });
	const lint = h("ul", { id: "tpl-lint", class: "lint" });
	const from = h("input", { id: "tpl-from", name: "from", value: "News <news@example.com>", autocomplete: "off" });
	const seeds = h("input", { id: "tpl-seeds", name: "seeds", autocomplete: "off", placeholder: "seed@example.com, other@example.net" });
	const raw = h("pre", { id: "tpl-raw", class: "raw", tabindex: "0", hidden: true, "aria-label": "The raw message" });
	const tested = h("ul", { id: "tpl-test-result" });
	let timer = null, seq = 0;

	const draft = () => {
		const d = { subject: subject.value };
		if (text.value.trim()) d.text = text.value;
		if (html.value.trim()) d.html = html.value;
		return d;
	};
	/* The draft rendered by kirim's composer for the chosen contact; only the latest answer shows. */
	async function render() {
		const mine = ++seq;
		const body = draft();
		if (contact.value) body.contact = contact.value;
		if (!body.text && !body.html) {
			problem.textContent = "A template has a text part, an HTML part or both.";
			return;
		}
		try {
			const r = await api("POST", "/api/templates/" + enc(name) + "/render", body);
			if (mine !== seq) return;
			problem.textContent = "";
			shownSubject.textContent = "Subject: " + r.subject;
			if (r.html !== null) {
				sent.csrf.value = state.session.csrf;
				sent.subject.value = subject.value;
				sent.html.value = html.value;
				sent.contact.value = contact.value;
				toFrame.submit();
			}
			frame.setAttribute("data-html", r.html !== null ? r.html : "");
			box.hidden = r.html === null;
			shownText.textContent = r.text !== null ? r.text : "";
			shownText.hidden = r.text === null;
			main().setAttribute("data-rendered", String(mine));
		} catch (e) {
			if (mine === seq) problem.textContent = e.message;
		}
	}
	const later = () => {
		clearTimeout(timer);
		timer = setTimeout(render, EDITOR_DEBOUNCE_MS);
	};
	for (const e of [subject, text, html]) e.addEventListener("input", later);
	contact.addEventListener("change", render);
	width.addEventListener("change", () => { box.className = "frame-box " + width.value; });

	async function relint() {
		lint.replaceChildren();
		if (!etag) return;
		try {
			const l = await api("GET", "/api/templates/" + enc(name) + "/lint");
			const items = l.missing_fields.map((m) => h("li", { class: "warn", text: "{{" + m.field + "}}: no contact has this field" +
				(m.has_default ? " (its default is used)" : "") + (m.suggestion ? "; did you mean {{" + m.suggestion + "}}?" : "") }))
				.concat(l.warnings.map((w) => h("li", { class: "warn", text: w.part + ": " + w.message })));
			lint.replaceChildren(...(items.length ? items : [h("li", { class: "ok", text: "No lint findings in the saved version." })]));
		} catch (e) {
			lint.replaceChildren(h("li", { class: "error", text: e.message }));
		}
	}

	const actions = h("div", { class: "actions" });
	const form = h("form", { class: "editor-source", id: "tpl-form", "aria-label": "Template source" },
		field("Subject", subject), field("Text part", text, "Mustache: {{first_name|friend}}, {{unsubscribe_url}}"),
		field("HTML part", html), actions);
	if (editor) {
		actions.append(h("button", { type: "submit", id: "tpl-save", text: "Save a new version" }));
		form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			try {
				const r = await editorCall("POST", "/api/templates", Object.assign({ name }, draft()),
					etag ? { "If-Match": etag } : {});
				t = r.v;
				etag = r.etag;
				heading.textContent = "Version " + t.version + ", saved " + t.created_at.replace("T", " ").replace("Z", " UTC");
				say("Template " + name + " saved as version " + t.version + ".");
				relint();
			} catch (e) {
				say(e.message, true);
			}
		});
	}
	const showRaw = h("button", { type: "button", id: "tpl-raw-show", class: "quiet", text: "Show the raw message",
		onclick: async () => {
			if (!etag) return say("Save the template first: the raw message is the saved version's.", true);
			try {
				const r = await editorCall("POST", "/api/templates/" + enc(name) + "/message",
					{ to: contact.value || "someone@example.com", from: from.value });
				raw.textContent = r.text;
				raw.hidden = false;
				raw.focus();
			} catch (e) {
				say(e.message, true);
			}
		} });
	const sendTest = editor ? h("button", { type: "button", id: "tpl-test", text: "Send a test",
		onclick: async () => {
			const to = seeds.value.split(/[\s,;]+/).filter(Boolean);
			if (!etag) return say("Save the template first: the test sends the saved version.", true);
			if (!to.length) return say("Give one seed address or more.", true);
			sendTest.disabled = true;
			say("Sending a test to " + to.join(", ") + "…");
			try {
				const r = await api("POST", "/api/templates/" + enc(name) + "/test", { to, from: from.value });
				tested.replaceChildren(...r.proofs.map((p) => h("li", { text: p.to + ": " + p.outcome +
					(p.code ? " (" + p.code + (p.ecode ? " " + p.ecode : "") + " " + p.text + ")" : p.text ? " (" + p.text + ")" : "") })));
				say(r.delivered + " of " + to.length + " tests handed to the relay.", r.delivered !== to.length);
			} catch (e) {
				say(e.message, true);
			} finally {
				sendTest.disabled = false;
			}
		} }) : null;

	const heading = h("span", { text: t ? "Version " + t.version + ", saved " + t.created_at.replace("T", " ").replace("Z", " UTC") : "Not saved yet" });
	page("Template " + name,
		h("p", { class: "muted", id: "tpl-version" }, heading),
		h("div", { class: "editor" },
			h("section", { "aria-labelledby": "tpl-source-h" }, h("h2", { id: "tpl-source-h", text: "Source" }), form,
				h("h3", { text: "Lint" }), lint),
			h("section", { "aria-labelledby": "tpl-preview-h" }, h("h2", { id: "tpl-preview-h", text: "Preview" }),
				h("div", { class: "inline" }, field("For contact", contact), field("Width", width)),
				problem, shownSubject, h("div", { class: "scroll frame-scroll", tabindex: "0", role: "region", "aria-label": "HTML preview" }, box), shownText)),
		toFrame,
		h("section", { "aria-labelledby": "tpl-send-h" }, h("h2", { id: "tpl-send-h", text: "The message and tests" }),
			h("div", { class: "inline" }, field("Sender", from, "From, for the raw message and tests"),
				editor ? field("Seed addresses", seeds, "up to 20, separated by commas") : null),
			h("div", { class: "actions" }, showRaw, sendTest), tested, raw));
	await render();
	relint();
}
