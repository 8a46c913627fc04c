/*
 * kirim console: the import wizard (#/import). The file is read in the browser; its first
 * 64 KiB go to /api/imports/preview (the importer's own sniffing: delimiter, encoding, the
 * first rows), the user maps each column, and the whole file goes to /api/imports with
 * kirim import's options (map, ignore_column, tags_column). Progress is read from
 * /api/imports/ID until the job is done; the rejected rows download from
 * /api/imports/ID/rejects. Uses console.js's helpers (h, api, page, field, say, table).
 */
"use strict";

const IMPORT_SAMPLE = 64 * 1024; /* what /api/imports/preview reads */

/* importSend(path, blob) - a CSV body to the API (api() sends JSON only) */
async function importSend(path, blob) {
	const r = await fetch(path, {
		method: "POST",
		headers: { Accept: "application/json", "Content-Type": "text/csv",
			"X-CSRF-Token": state.session.csrf },
		body: blob,
		credentials: "same-origin",
	});
	const text = await r.text();
	const v = text ? JSON.parse(text) : null;
	if (!r.ok) throw new ApiError(r.status, (v && v.detail) || r.statusText);
	return v;
}

/* A header as an attribute key a template can name: "First Name" -> first_name. */
const importKey = (name) => name.trim().toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "_").replace(/^_+|_+$/g, "") || "column";

async function importWizard() {
	if (!can("editor")) {
		page("Import contacts", h("p", { text: "Importing needs the editor role; you are " + state.session.role + "." }));
		return;
	}
	const lists = await api("GET", "/api/lists?limit=1000&counts=false");
	const file = h("input", { id: "import-file", name: "file", type: "file", accept: ".csv,.txt,text/csv,text/plain", required: true });
	const list = h("input", { id: "import-list", name: "list", list: "import-lists", required: true, autocomplete: "off" });
	const known = h("datalist", { id: "import-lists" }, lists.items.map((l) => h("option", { value: l.name })));
	const update = h("input", { id: "import-update", name: "update", type: "checkbox" });
	const delim = h("select", { id: "import-delimiter", name: "delimiter" },
		h("option", { value: ",", text: "comma (,)" }), h("option", { value: ";", text: "semicolon (;)" }),
		h("option", { value: "tab", text: "tab" }));
	const encoding = h("input", { id: "import-encoding", name: "encoding", autocomplete: "off" });
	const sniffed = h("div", { id: "import-sniffed" });
	const mapping = h("div", { id: "import-mapping" });
	const progress = h("div", { id: "import-progress", "aria-live": "polite" });
	const start = h("button", { type: "submit", id: "import-start", text: "Import", disabled: true });
	let preview = null;

	/* The preview of the file's start, read as the controls say (sniffed the first time). */
	async function look(sniff) {
		preview = null;
		start.disabled = true;
		mapping.replaceChildren();
		if (!file.files.length) return;
		const q = new URLSearchParams();
		if (!sniff) {
			q.set("delimiter", delim.value);
			if (encoding.value.trim()) q.set("encoding", encoding.value.trim());
		}
		try {
			preview = await importSend("/api/imports/preview?" + q, file.files[0].slice(0, IMPORT_SAMPLE));
		} catch (e) {
			sniffed.replaceChildren(h("p", { class: "error", text: e.message }));
			say(e.message, true);
			return;
		}
		delim.value = preview.delimiter;
		encoding.value = preview.encoding;
		say("");
		sniffed.replaceChildren(
			h("h2", { text: "What the file holds" }),
			h("dl", { class: "facts" },
				h("dt", { text: "Delimiter" }), h("dd", { id: "import-delimiter-seen", text: preview.delimiter === "tab" ? "tab" : preview.delimiter }),
				h("dt", { text: "Encoding" }), h("dd", { id: "import-encoding-seen", text: preview.encoding + " (" + preview.encoding_why + ")" }),
				h("dt", { text: "Columns" }), h("dd", { text: String(preview.header.length) })),
			table("The first rows" + (preview.more ? " (more follow)" : ""), preview.header.map((c, i) => ({
				label: c, get: (r) => r[i] ?? "" })), preview.rows, "import-rows"));
		drawMapping();
		start.disabled = false;
	}

	/* One row per column: what it becomes (the address, an attribute named by the user, tags, nothing). */
	function drawMapping() {
		const rows = preview.header.map((c, i) => {
			const use = h("select", { id: "map-use-" + i, name: "use-" + i, "aria-label": "Column " + c + ": use" },
				h("option", { value: "email", text: "Email address" }), h("option", { value: "attribute", text: "Contact attribute" }),
				h("option", { value: "tags", text: "Tags" }), h("option", { value: "skip", text: "Skip" }));
			use.value = c === preview.email_column ? "email" : "attribute";
			const key = h("input", { id: "map-key-" + i, name: "key-" + i, value: importKey(c),
				"aria-label": "Column " + c + ": attribute name", autocomplete: "off" });
			const sync = () => { key.disabled = use.value !== "attribute"; };
			use.addEventListener("change", sync);
			sync();
			return { c, use, key };
		});
		mapping.rows = rows;
		mapping.replaceChildren(h("h2", { text: "Map the columns" }),
			h("p", { class: "muted", text: "Each column becomes the address, an attribute (the name templates use: {{first_name}}), the contact's tags, or nothing." }),
			h("div", { class: "scroll", role: "region", "aria-label": "Column mapping", tabindex: "0" },
				h("table", { id: "import-map" }, h("caption", { class: "muted", text: "Columns and what they become" }),
					h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Column" }), h("th", { scope: "col", text: "Becomes" }),
						h("th", { scope: "col", text: "Attribute name" }), h("th", { scope: "col", text: "First value" }))),
					h("tbody", {}, rows.map((r, i) => h("tr", {}, h("th", { scope: "row", text: r.c }), h("td", {}, r.use), h("td", {}, r.key),
						h("td", { text: preview.rows.length ? preview.rows[0][i] ?? "" : "" })))))));
	}

	/* The options /api/imports takes for the mapping (kirim import's --map, --ignore-column, --tags-column). */
	function options() {
		const q = new URLSearchParams({ list: list.value.trim() });
		if (update.checked) q.set("update", "true");
		q.set("delimiter", delim.value);
		if (encoding.value.trim()) q.set("encoding", encoding.value.trim());
		const map = [];
		let email = 0, tags = 0;
		for (const r of mapping.rows) {
			if (/[,=]/.test(r.c) && (r.use.value === "email" || (r.use.value === "attribute" && r.key.value !== r.c)))
				throw new Error("Column '" + r.c + "' has a ',' or '=' in its name: it can only keep its name, be tags or be skipped.");
			if (r.use.value === "email") {
				email++;
				map.push(r.c + "=email");
			} else if (r.use.value === "attribute") {
				if (!r.key.value.trim()) throw new Error("Give column '" + r.c + "' an attribute name, or skip it.");
				if (r.key.value.trim() !== r.c) map.push(r.c + "=" + r.key.value.trim());
			} else if (r.use.value === "tags") {
				tags++;
				q.set("tags_column", r.c);
			} else {
				q.append("ignore_column", r.c);
			}
		}
		if (email !== 1) throw new Error("Choose one column as the email address.");
		if (tags > 1) throw new Error("Only one column can hold the tags.");
		if (map.length) q.set("map", map.join(","));
		return q;
	}

	async function watch(id) {
		const bar = h("progress", { id: "import-bar", max: "100", value: "0" });
		const label = h("label", { for: "import-bar", id: "import-bar-label", text: "Queued…" });
		progress.replaceChildren(h("h2", { text: "Importing" }), label, bar);
		for (;;) {
			const j = await api("GET", "/api/imports/" + id);
			if (j.size) {
				bar.value = String(Math.round((j.bytes * 100) / j.size));
				label.textContent = num(j.rows) + " rows read, " + bar.value + "% of the file";
			}
			if (j.state === "failed") {
				progress.replaceChildren(h("h2", { text: "The import failed" }), h("p", { id: "import-error", class: "error", text: j.error }));
				say("The import failed: nothing was changed.", true);
				return;
			}
			if (j.state === "done") return summary(j);
			if (location.hash !== "#/import") return;
			await new Promise((r) => setTimeout(r, 400));
		}
	}

	function summary(j) {
		const s = j.summary;
		const facts = [["Rows read", s.read], ["New contacts", s.imported], ["Added to the list", s.added],
			["Updated", s.updated], ["Already in the list", s.existing], ["Repeated in the file", s.duplicates],
			["Suppressed", s.suppressed], ["Rejected", s.rejected], ["Blank rows", s.blank]];
		progress.replaceChildren(h("h2", { text: "Imported into " + j.list }),
			h("progress", { id: "import-bar", max: "100", value: "100", "aria-label": "Import progress" }),
			h("dl", { class: "facts", id: "import-summary" }, facts.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: num(v) })])),
			s.rejected ? table("Why rows were rejected", [
				{ label: "Reason", get: (e) => e[0] }, { label: "Rows", num: true, get: (e) => num(e[1]) },
			], Object.entries(s.reasons || {}), "import-reasons") : null,
			s.rejected && j.rejects ? h("p", {}, h("a", { id: "import-rejects", href: j.rejects, download: "rejected-" + j.id + ".csv",
				text: "Download the " + num(s.rejected) + " rejected rows (CSV)" })) : null,
			h("p", {}, h("a", { href: "#/contacts?list=" + enc(j.list), text: "See the list's contacts" })));
		say("Imported " + num(s.imported + s.added) + " contacts into " + j.list + "; " + num(s.rejected) + " rejected.");
	}

	file.addEventListener("change", () => look(true));
	delim.addEventListener("change", () => look(false));
	encoding.addEventListener("change", () => look(false));
	const form = h("form", { class: "stack wide", id: "import-form" },
		field("CSV file", file, "the first row names the columns"),
		field("Into list", list, "an existing list, or a new name"), known,
		h("label", { class: "check" }, update, "Update contacts already known with the file's values"),
		h("div", { class: "inline" }, field("Delimiter", delim), field("Encoding", encoding, "as sniffed; change it to read the file again")),
		sniffed, mapping, h("div", { class: "actions" }, start));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		let q;
		try {
			q = options();
		} catch (e) {
			say(e.message, true);
			return;
		}
		start.disabled = true;
		try {
			const j = await importSend("/api/imports?" + q, file.files[0]);
			say("Import " + j.id + " started.");
			await watch(j.id);
		} catch (e) {
			say(e.message, true);
		} finally {
			start.disabled = false;
		}
	});
	page("Import contacts", form, progress);
}
