// The agent's page: live status over an event stream, and the restore browser. Plain DOM code, no framework; every
// text from the agent goes in through textContent, never as HTML.
const $ = (id) => document.getElementById(id);
const WRITE = { "x-rtb-request": "1", "content-type": "application/json" };

const state = { at: "", path: "/", after: undefined, selected: undefined, hasAgent: false };

/** A fetch of the API that shows the sign-in form on 401 and throws the server's message otherwise. */
async function api(url, options = {}) {
  const res = await fetch(url, { credentials: "same-origin", ...options });
  if (res.status === 401) {
    showLogin();
    throw new Error("not signed in");
  }
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : undefined;
  if (!res.ok) throw new Error(body?.error ?? `${res.status} ${res.statusText}`);
  return body;
}

const post = (url, body = {}) => api(url, { method: "POST", headers: WRITE, body: JSON.stringify(body) });

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function bytes(n) {
  if (n === undefined || n === null) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

function fill(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
}

function showLogin() {
  $("login").hidden = false;
  $("status").hidden = true;
  $("restore").hidden = true;
  $("state").textContent = "signed out";
}

function showTab(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.tab === name);
  $("status").hidden = name !== "status";
  $("restore").hidden = name !== "restore";
  if (name === "restore" && !$("entries").hasChildNodes()) void openDirectory(state.path);
}

// ---- status ----

function renderStatus(s) {
  const a = s.agent;
  $("state").textContent = a.paused ? "paused" : "monitoring";
  $("state").className = `pill ${a.paused ? "paused" : "ok"}`;
  $("pause").disabled = a.paused;
  $("resume").disabled = !a.paused;
  const q = a.queues;
  fill($("queues"), [
    ["waiting for events", q.intake],
    ["open for writing", q.openFiles],
    ["waiting to settle", q.longPolling],
    ["to upload", q.actions],
    ["uploading", q.uploading],
    ["to commit", q.pendingCommit],
    ["held while paused", q.bufferedWhilePaused],
  ]);
  const t = a.totals;
  fill($("totals"), [
    ["files uploaded", t.filesUploaded],
    ["bytes uploaded", bytes(t.bytesUploaded)],
    ["batches committed", t.batchesCommitted],
    ["records committed", t.recordsCommitted],
    ["unchanged", t.unchanged],
    ["errors", a.errors.count],
  ]);
  const r = a.rescan;
  fill($("rescan-state"), [
    ["running", r.running ? `yes (${r.reason})` : "no"],
    ["walked", r.walked],
    ["queued", r.queued],
    ["last", r.last ? `${r.last.reason ?? ""} ${r.last.changed ?? ""} changed` : "none yet"],
  ]);
  const repo = s.repository;
  fill($("repository"), [
    ["storage", a.storage + (repo.prefix ? ` (prefix ${repo.prefix})` : "")],
    ["repository", `${repo.id.slice(0, 12)}, format ${repo.format}, ${repo.encrypted ? "encrypted" : "not encrypted"}`],
    ["paths known", a.stateCache.paths],
    ["sources", a.sources.length ? a.sources.map((x) => `${x.name}: ${x.state}${x.lastError ? ` (${x.lastError})` : ""}`).join(", ") : "none reporting"],
    ["updated", when(a.time)],
  ]);
  renderUploads(a.uploads);
  renderList($("commits"), s.commits, commitText);
  renderList($("failures"), s.failures, failureText);
}

function renderUploads(uploads) {
  if (uploads.length === 0) return $("uploads").replaceChildren(el("tr", "none", "note"));
  $("uploads").replaceChildren(
    ...uploads.map((u) => {
      const row = el("tr");
      row.append(el("td", u.path, "path"), el("td", `${bytes(u.bytesDone)} of ${bytes(u.size)}`), el("td", `${bytes(u.bytesPerSecond)}/s`));
      return row;
    }),
  );
}

const commitText = (c) => `${when(c.time)} — ${c.puts} put, ${c.moves} moved, ${c.deletes} deleted, ${bytes(c.bytes)}: ${c.paths.join(", ")}`;
const failureText = (f) => `${when(f.time)} — ${f.stage} ${f.path}: ${f.message}${f.retryAt ? ` (retry ${when(f.retryAt)})` : ""}`;

function renderList(list, items, text) {
  list.replaceChildren(...(items.length ? items.map((i) => el("li", text(i))) : [el("li", "none yet", "note")]));
}

function listen() {
  const source = new EventSource("/api/events");
  let last;
  source.addEventListener("status", (e) => {
    last = JSON.parse(e.data);
    renderStatus(last);
  });
  source.addEventListener("commit", (e) => {
    if (!last) return;
    last.commits = [JSON.parse(e.data), ...last.commits].slice(0, 20);
    renderStatus(last);
  });
  source.onerror = () => {
    $("state").textContent = "reconnecting…";
    $("state").className = "pill";
  };
}

/** What an action's result means, in words. */
const DONE = {
  pause: (r) => (r.wasPaused ? "was paused already" : "paused: changes are held until resumed"),
  unpause: (r) => (r.wasPaused ? `resumed: ${r.processed} held changes passed on` : "was not paused"),
  rescan: (r) => (r.alreadyRunning ? "a rescan is running already; another follows it" : "rescan started"),
  check: (r) => `${r.submitted} path${r.submitted === 1 ? "" : "s"} submitted${r.paused ? " (held: paused)" : ""}`,
};

async function act(what, body) {
  try {
    const result = await post(`/api/${what}`, body);
    $("action-result").textContent = DONE[what](result);
    renderStatus(await api("/api/status"));
  } catch (err) {
    $("action-result").textContent = `${what} failed: ${err.message}`;
  }
}

// ---- restore browser ----

/**
 * A typed moment for the API: a date and time without a zone is the browser's local time (as the page shows times),
 * sent as ISO; anything else ("2h ago", "yesterday", a time with its zone) goes as typed.
 */
function momentOf(text) {
  if (/^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(text)) {
    const local = new Date(text.replace(" ", "T"));
    if (!Number.isNaN(local.getTime())) return local.toISOString();
  }
  return text;
}

const query = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== "")).toString();

async function loadMoments() {
  try {
    const { commits } = await api(`/api/browse/commits?${query({ limit: 200 })}`);
    const select = $("moment");
    for (const c of commits) {
      const option = el("option", `${when(c.time)} — ${writerOf(c)}: ${c.puts} put, ${c.moves} moved, ${c.deletes} deleted`);
      option.value = c.time;
      select.append(option);
    }
  } catch (err) {
    $("restore-result").textContent = `commits: ${err.message}`;
  }
}

function renderCrumbs(path) {
  const parts = path === "/" ? [] : path.slice(1).split("/");
  const crumbs = [["/", "/"]];
  parts.forEach((p, i) => crumbs.push([p, `/${parts.slice(0, i + 1).join("/")}`]));
  $("crumbs").replaceChildren(
    ...crumbs.map(([name, target]) => {
      const a = el("a", name);
      a.href = "#";
      a.addEventListener("click", (e) => {
        e.preventDefault();
        void openDirectory(target);
      });
      return a;
    }),
  );
}

function entryRow(entry) {
  const row = el("tr");
  const name = el("a", entry.type === "directory" ? `${entry.name}/` : entry.name, "path");
  name.href = "#";
  name.addEventListener("click", (e) => {
    e.preventDefault();
    if (entry.type === "directory") void openDirectory(entry.path);
    else void selectEntry(entry);
  });
  const more = el("button", entry.type === "directory" ? "restore…" : "versions");
  more.addEventListener("click", () => void selectEntry(entry));
  const cells = [el("td"), el("td", entry.type === "file" ? bytes(entry.size) : entry.type), el("td", when(entry.mtime)), el("td")];
  cells[0].append(name);
  cells[3].append(more);
  row.append(...cells);
  return row;
}

async function openDirectory(path, after) {
  state.path = path;
  // Only the last listing asked for is shown: an earlier one that answers late is dropped.
  const asked = (state.listing = (state.listing ?? 0) + 1);
  try {
    // "More" asks the tree the first page came from (its moment is in the answer), not a newer one.
    const at = after ? state.pageAt : state.at;
    const page = await api(`/api/browse/list?${query({ at, path, after, limit: 200 })}`);
    if (asked !== state.listing) return;
    state.pageAt = page.at;
    renderCrumbs(page.path);
    const rows = page.entries.map(entryRow);
    if (after) $("entries").append(...rows);
    else $("entries").replaceChildren(...(rows.length ? rows : [el("tr", "empty directory", "note")]));
    state.after = page.next ?? undefined;
    $("more").hidden = !page.next;
  } catch (err) {
    if (asked !== state.listing) return;
    $("entries").replaceChildren(el("tr", err.message, "note"));
    $("more").hidden = true;
  }
}

async function selectEntry(entry) {
  state.selected = entry;
  $("detail").hidden = false;
  $("detail-title").textContent = entry.path;
  $("restore-result").textContent = "";
  const kind = entry.type === "directory" ? "tar" : "file";
  $("download").href = `/api/browse/${kind}?${query({ at: state.at, path: entry.path })}`;
  $("download").textContent = entry.type === "directory" ? "Download as tar" : "Download";
  $("versions").replaceChildren();
  if (entry.type === "directory") return;
  try {
    const { versions } = await api(`/api/browse/versions?${query({ path: entry.path })}`);
    $("versions").replaceChildren(...versions.map(versionRow));
  } catch (err) {
    $("versions").replaceChildren(el("tr", err.message, "note"));
  }
}

const writerOf = (x) => x.host ?? (x.writer ?? "").slice(0, 8);

function versionRow(v) {
  const row = el("tr");
  const change = v.deletedAt ? `${v.change}, deleted ${when(v.deletedAt)}` : v.change;
  row.append(
    el("td", when(v.time)),
    el("td", change),
    el("td", bytes(v.size)),
    el("td", when(v.mtime)),
    el("td", (v.content ?? "").slice(0, 12), "mono"),
    el("td", writerOf(v)),
  );
  return row;
}

async function restoreSelected(target) {
  $("restore-result").textContent = "restoring…";
  try {
    const result = await post("/api/browse/restore", { at: state.at || undefined, path: state.selected.path, target });
    $("restore-result").textContent = `restored ${result.restored} into ${target}${result.failed ? `, ${result.failed} failed` : ""}`;
  } catch (err) {
    $("restore-result").textContent = `restore failed: ${err.message}`;
  }
}

// ---- start ----

function wire() {
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showTab(tab.dataset.tab));
  $("pause").addEventListener("click", () => void act("pause"));
  $("resume").addEventListener("click", () => void act("unpause"));
  $("rescan").addEventListener("click", () => void act("rescan"));
  $("check-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void act("check", { paths: [$("check-path").value.trim()] });
  });
  $("more").addEventListener("click", () => void openDirectory(state.path, state.after));
  $("moment-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.at = momentOf($("moment-text").value.trim()) || $("moment").value;
    $("detail").hidden = true;
    void openDirectory(state.path);
  });
  $("restore-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void restoreSelected($("restore-target").value.trim());
  });
}

async function start() {
  wire();
  let status;
  try {
    status = await api("/api/status");
  } catch (err) {
    if (err.message === "not signed in") return;
  }
  $("login").hidden = true;
  state.hasAgent = status !== undefined;
  $("tab-status").hidden = !state.hasAgent;
  if (state.hasAgent) {
    renderStatus(status);
    listen();
  } else $("state").textContent = "restore only";
  void loadMoments();
  showTab(state.hasAgent && location.hash !== "#restore" ? "status" : "restore");
}

void start();
