// The DIRFA verifier page: send a file to POST /verify and show its report.
// Every value from the report is written with textContent (never as markup): file names, signer subjects and
// manifest claims are chosen by whoever made the file.
"use strict";

const $ = (id) => document.getElementById(id);

const VERDICTS = {
  verified: ["Verified",
    "This video carries an intact C2PA manifest signed by an identity this service trusts, and it has not changed since it was signed."],
  signed_untrusted: ["Signed, signer not trusted",
    "The manifest is intact and the video has not changed since it was signed, but the signer is not one this service trusts. Believe it only as far as you trust the signer named below."],
  tampered: ["Tampered",
    "The video carries a C2PA manifest, but the manifest fails validation: the video or its manifest was changed after signing, or the signing credential is bad. Its claims cannot be relied on."],
  recovered: ["Recovered",
    "The file has no manifest (a platform probably re-encoded it or stripped its metadata), but its watermark led to a genuine signed manifest in the manifest store."],
  watermark_only: ["Watermark only",
    "There is no manifest, but this SDK's invisible watermark is in the video: it was made with this AI generator. No signed record says who made it."],
  mismatch: ["Mismatch",
    "The manifest and the watermark disagree, or only part of the video carries the watermark (for example marked and unmarked footage spliced together)."],
  no_provenance: ["No provenance",
    "Neither a C2PA manifest nor this SDK's watermark was found. That does not show a camera made it: the absence of a mark is no evidence either way."],
  unreadable: ["Unreadable",
    "The file could not be decoded within this service's limits, so nothing could be checked. The reason is under Errors."],
};

const REASONS = {
  hard_binding_mismatch: "the video's bytes changed after signing",
  signature_mismatch: "the signature does not match the manifest",
  assertion_mismatch: "a statement inside the manifest was altered",
  expired: "the signing certificate had expired",
  malformed: "the manifest could not be parsed",
  untrusted: "the signer does not chain to a trusted root",
};

const ACTIONS = {
  "c2pa.created": "created", "c2pa.watermarked": "watermarked", "c2pa.edited": "edited", "c2pa.opened": "opened",
  "c2pa.placed": "placed", "c2pa.transcoded": "transcoded", "c2pa.converted": "converted", "c2pa.cropped": "cropped",
  "c2pa.resized": "resized", "c2pa.published": "published", "c2pa.repackaged": "repackaged",
};

// --- small DOM helpers (text only) ----------------------------------------------------------------------------

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function setText(id, text) { $(id).textContent = text == null ? "" : String(text); }

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

function kv(dl, key, value) {
  if (value === undefined || value === null || value === "") return;
  const row = el("div");
  row.append(el("dt", key), el("dd", value));
  dl.append(row);
}

const power = (n) => String(n).replace(/\d/g, (d) => "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"[d]);

const secs = (s) => (s == null ? "?" : `${Number(s).toFixed(2)} s`);

function bytes(n) {
  if (n == null) return "";
  const units = ["bytes", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

function pill(id, text, kind) {
  const node = $(id);
  node.textContent = text;
  node.dataset.kind = kind;
  node.hidden = !text;
}

// --- rendering --------------------------------------------------------------------------------------------------

function render(answer) {
  const report = answer && answer.report ? answer.report : answer;
  const thumbs = (answer && answer.thumbnails) || [];
  const c = report.c2pa || {};
  const wm = report.watermark || {};
  const media = report.media || {};
  const [label, sentence] = VERDICTS[report.verdict] || [String(report.verdict), "Unknown verdict."];

  $("verdict").dataset.verdict = report.verdict;
  setText("verdict-label", label);
  let text = sentence;
  if (report.verdict === "verified" && report.binding && report.binding.checked) {
    text += " Its watermark names the same content over the whole video.";
  }
  if (report.verdict === "recovered") {
    text += " This proves a signed manifest names this watermark; it does not prove the pixels are unchanged.";
  }
  setText("verdict-text", text);
  setText("summary", report.summary);

  setText("source", report.source);
  const dims = media.width && media.height ? `${media.width}×${media.height}` : "";
  setText("media", [media.mime, dims, media.duration_s != null ? secs(media.duration_s) : "",
    media.fps ? `${media.fps} fps` : "", bytes(media.size_bytes), `${report.mode} mode`].filter(Boolean).join(" · "));

  renderAi(report);
  renderSigner(report);
  renderWatermark(report, wm, media);
  renderManifest(c, thumbs);
  renderRecovery(report);

  const errors = report.errors || [];
  $("errors-box").hidden = errors.length === 0;
  clear($("errors")).append(...errors.map((e) => el("li", e)));

  setText("raw-json", JSON.stringify(answer, null, 2));
  $("result").hidden = false;
}

function renderAi(report) {
  const ai = report.ai_generated;
  const value = ai === true ? "yes" : ai === false ? "no" : "unknown";
  $("ai-generated").dataset.value = value;
  pill("ai-generated", { yes: "Yes", no: "No", unknown: "Unknown" }[value], value);
  let why = "nothing here says either way (an unmarked video is not evidence of a camera)";
  if (ai === true) {
    why = report.watermark && report.watermark.found ? "this SDK's watermark is in the video"
      : report.recovery && report.recovery.found ? "a recovered manifest says so"
        : "the manifest declares an AI source";
  } else if (ai === false) {
    why = "a valid manifest declares a non-AI source, and no watermark was found";
  }
  setText("ai-why", why);
}

function renderSigner(report) {
  const c = report.c2pa || {};
  const r = report.recovery || {};
  let subject = c.signer_subject, trusted = c.trusted, note = "";
  if (!c.present && r.found) { subject = r.signer_subject; trusted = r.trusted; note = "from the recovered manifest"; }
  if (c.present && (c.status === "invalid" || c.status === "malformed")) {
    note = "claimed by a manifest that fails validation: not established";
    trusted = null;
  }
  setText("signer", subject || (c.present ? "unknown signer" : "not signed (no manifest)"));
  if (!subject) pill("signer-trust", "", "none");
  else if (trusted === null) pill("signer-trust", "unverified", "bad");
  else pill("signer-trust", trusted ? "trusted" : "not trusted", trusted ? "good" : "warn");
  if (subject && trusted !== null && trusted !== undefined) {
    const chain = trusted ? "its certificate chains to a root this service trusts"
      : "no root this service trusts issued its certificate";
    note = note ? `${note}; ${chain}` : chain;
  }
  setText("signer-note", note);
}

function renderWatermark(report, wm, media) {
  const timeline = clear($("timeline"));
  if (!wm.analysed) setText("watermark-summary", "The watermark was not analysed.");
  else if (wm.found) {
    const p = wm.log10_p != null ? `; chance of a false match below 1 in 10${power(Math.floor(-wm.log10_p))}` : "";
    setText("watermark-summary", `Found, content ID ${wm.content_id} (${wm.frames_analysed} frames analysed${p}).`);
  } else setText("watermark-summary", `Not found (${wm.frames_analysed || 0} frames analysed).`);

  let segments = wm.segments || [];
  if (wm.analysed && !wm.found && !segments.length && media.duration_s) {
    // no segment at all (fast mode on an unmarked video): draw the whole video as one unmarked span
    segments = [{ start_s: 0, end_s: media.duration_s, found: false, synthetic: true }];
  }
  const end = Math.max(media.duration_s || 0, ...segments.map((s) => s.end_s || 0));
  const start = Math.min(0, ...segments.map((s) => s.start_s || 0));
  for (const s of segments) {
    const item = el("li", null, s.found ? "seg found" : "seg missing");
    item.dataset.found = String(Boolean(s.found));
    item.dataset.start = s.start_s;
    item.dataset.end = s.end_s;
    if (s.synthetic) item.dataset.synthetic = "true";
    const span = end > start ? ((s.end_s - s.start_s) / (end - start)) * 100 : 100 / segments.length;
    item.style.flexBasis = `${Math.max(span, 0.5)}%`;
    const what = s.found ? `watermark ${s.content_id || "found"}` : "no watermark";
    item.title = `${secs(s.start_s)} – ${secs(s.end_s)}: ${what}`;
    item.append(el("span", `${secs(s.start_s)}–${secs(s.end_s)}`, "seg-time"), el("span", what, "seg-what"));
    timeline.append(item);
  }
  $("timeline").hidden = segments.length === 0;
  setText("axis-start", segments.length ? secs(start) : "");
  setText("axis-end", segments.length ? secs(end) : "");
  // fast mode analyses key frames only: time no segment covers is drawn as the (hatched) track itself
  const covered = segments.reduce((sum, s) => sum + Math.max(0, (s.end_s || 0) - (s.start_s || 0)), 0);
  $("legend-gap").hidden = !(segments.length && end - start - covered > 0.01);

  const b = report.binding || {};
  let binding = "";
  if (b.checked) {
    binding = b.matches ? `The manifest's soft binding (${b.manifest_value}) names this watermark.`
      : `The manifest's soft binding (${b.manifest_value}) does not match the watermark (${b.watermark_value || "none"}).`;
  }
  if (wm.found && b.whole_video_marked === false) binding += " Part of the video carries no watermark.";
  setText("binding", binding.trim());
}

function renderManifest(c, thumbs) {
  const STATUS = {
    trusted: "Present and valid; the signer is trusted.",
    valid_untrusted: "Present and valid; the signer is not trusted by this service.",
    invalid: "Present but INVALID: the claims below are shown for diagnosis only, not as facts.",
    malformed: "Present but could not be parsed.",
    absent: "This file carries no C2PA manifest.",
  };
  const reasons = (c.reasons || []).filter((r) => r !== "untrusted" || c.status !== "valid_untrusted");
  let status = STATUS[c.status] || String(c.status);
  if (reasons.length) status += ` Why: ${reasons.map((r) => REASONS[r] || r).join("; ")}.`;
  if ((c.failure_codes || []).length) status += ` (c2pa codes: ${c.failure_codes.join(", ")})`;
  setText("manifest-status", status);
  $("manifest-status").dataset.status = c.status || "";
  $("manifest-body").hidden = !c.present;

  const dl = clear($("manifest-kv"));
  kv(dl, "Signer", c.signer_subject);
  kv(dl, "Issuer", c.signer_issuer);
  kv(dl, "Made with", c.claim_generator);
  kv(dl, "Source type", sourceType(c.digital_source_type));
  kv(dl, "Validation", c.validation_state);
  if (c.soft_binding_alg) kv(dl, "Soft binding", `${c.soft_binding_alg} = ${c.soft_binding_value}`);

  clear($("actions")).append(...(c.actions || []).map((a) => {
    const li = el("li", ACTIONS[a] || a);
    li.title = a;
    li.dataset.action = a;
    return li;
  }));
  if (!(c.actions || []).length) $("actions").append(el("li", "none recorded", "none"));
  clear($("ingredients")).append(...(c.ingredients || []).map((i) => el("li", i)));
  if (!(c.ingredients || []).length) $("ingredients").append(el("li", "none recorded", "none"));

  const box = clear($("thumbnails"));
  for (const t of thumbs) {
    if (typeof t.data_uri !== "string" || !/^data:image\/(jpeg|png|webp|gif);base64,/.test(t.data_uri)) continue;
    const fig = el("figure");
    const img = el("img");
    img.src = t.data_uri;
    img.alt = t.label || "thumbnail";
    fig.append(img, el("figcaption", t.label));
    box.append(fig);
  }
  box.hidden = !box.firstChild;

  const gen = clear($("generation"));
  for (const [k, v] of Object.entries(c.generation || {})) kv(gen, k, typeof v === "object" ? JSON.stringify(v) : v);
  $("generation-box").hidden = !gen.firstChild;
}

function sourceType(uri) {
  if (!uri) return null;
  const name = String(uri).split("/").pop();
  const words = {
    trainedAlgorithmicMedia: "AI-generated (trained algorithmic media)",
    compositeWithTrainedAlgorithmicMedia: "composite with AI-generated parts",
    algorithmicMedia: "algorithmic media",
    digitalCapture: "digital capture (camera)",
  };
  return words[name] ? `${words[name]} [${name}]` : name;
}

function renderRecovery(report) {
  const r = report.recovery || {};
  const box = clear($("recovery"));
  box.dataset.attempted = String(Boolean(r.attempted));
  box.dataset.found = String(Boolean(r.found));
  box.dataset.status = r.status || "";
  const c = report.c2pa || {};
  const wm = report.watermark || {};
  if (!r.attempted) {
    box.append(el("p", c.present ? "Not needed: the file carries its own manifest."
      : wm.found ? "Not attempted: this service has no manifest store to look the watermark up in."
        : "Not possible: there is no watermark to look up."));
    return;
  }
  if (!r.found) {
    box.append(el("p", `The store holds no usable manifest for watermark ${wm.content_id || ""}.`.replace(" .", ".")));
  } else {
    box.append(el("p", `The watermark led to manifest ${r.manifest_id} in the store.`));
  }
  const dl = el("dl", null, "kv");
  const STATUS = {
    matches_asset: "its hard binding matches this very file",
    recovered: "signature and claims verify; only the hard binding fails, as it must after a re-encode",
    recovered_untrusted: "verifies, but its signer is not trusted",
    soft_binding_mismatch: "it names a different watermark",
    invalid: "it fails validation", malformed: "it could not be parsed",
  };
  kv(dl, "Status", r.status ? `${r.status}: ${STATUS[r.status] || ""}`.replace(/: $/, "") : null);
  kv(dl, "Signer", r.signer_subject);
  if (r.found) kv(dl, "Signer trusted", r.trusted ? "yes" : "no");
  if ((r.reasons || []).length) kv(dl, "Reasons", r.reasons.map((x) => REASONS[x] ? `${x} (${REASONS[x]})` : x).join("; "));
  box.append(dl);
}

// --- upload -----------------------------------------------------------------------------------------------------

const HTTP = {
  400: "The service refused the request",
  408: "The upload stalled and the service gave up waiting for it. Check your connection and try again",
  413: "The file is larger than this service accepts",
  500: "The verifier failed on this file",
  503: "The verifier is busy right now",
  504: "Verification took longer than this service allows",
};

let current = null;
let xhr = null;

function showStatus(text, percent) {
  $("status").hidden = !text;
  setText("status-text", text);
  const bar = $("progress");
  if (percent == null) bar.removeAttribute("value"); else bar.value = percent;
}

function showError(text, status) {
  setText("error", text);
  $("error").hidden = !text;
  $("error").dataset.status = status || "";
}

function verify(file) {
  if (!file) return;
  current = file;
  if (xhr) xhr.abort();
  const mode = document.querySelector('input[name="mode"]:checked').value;
  setText("chosen", `${file.name} (${bytes(file.size)})`);
  showError("");
  $("result").hidden = true;
  $("again").hidden = true;
  $("form").setAttribute("aria-busy", "true");
  showStatus(`Uploading ${file.name}…`, 0);

  const req = (xhr = new XMLHttpRequest());
  req.open("POST", `/verify?mode=${encodeURIComponent(mode)}&thumbnails=1`);
  req.setRequestHeader("Content-Type", "application/octet-stream");
  req.setRequestHeader("X-Filename", encodeURIComponent(file.name));  // headers are Latin-1: percent-encode (UTF-8)
  req.responseType = "text";
  req.upload.onprogress = (e) => {
    if (!e.lengthComputable) return;
    const percent = (e.loaded / e.total) * 100;
    showStatus(`Uploading ${file.name}… ${Math.round(percent)}%`, percent);
  };
  req.upload.onload = () => showStatus(`Verifying (${mode} mode)…`, null);
  req.onerror = () => finish(req, () => showError(
    "Could not reach the verifier service (a network failure, or the service stopped). Try again.", "network"));
  req.ontimeout = req.onerror;
  req.onload = () => finish(req, () => answered(req));
  req.send(file);
}

function finish(req, then) {
  if (req !== xhr) return;  // superseded by a newer upload
  xhr = null;
  showStatus("");
  $("form").removeAttribute("aria-busy");
  $("again").hidden = !current;
  then();
}

function answered(req) {
  let body = null;
  try { body = JSON.parse(req.responseText); } catch (e) { body = null; }
  if (req.status === 200 && body && (body.report || body).verdict) {
    render(body);
    $("verdict").focus();
    return;
  }
  let text = HTTP[req.status] || `The service answered HTTP ${req.status}`;
  if (req.status === 503) {
    const after = req.getResponseHeader("Retry-After");
    text += after ? `; try again in ${after} second${after === "1" ? "" : "s"}` : "; try again shortly";
  }
  const detail = body && body.error ? ` (${body.error})` : "";
  showError(`${text}${detail}.`, String(req.status));
  $("again").hidden = req.status === 413;  // the same file would be refused again
}

// --- wiring -----------------------------------------------------------------------------------------------------

function init() {
  const input = $("file");
  const zone = $("dropzone");
  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = "";  // so that choosing the same file again verifies it again
    verify(file);
  });
  $("again").addEventListener("click", () => verify(current));
  // dropping a file anywhere else must not navigate away from the page
  for (const type of ["dragover", "drop"]) window.addEventListener(type, (e) => e.preventDefault());
  zone.addEventListener("dragenter", () => zone.classList.add("over"));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files.length) verify(e.dataTransfer.files[0]);
  });
  $("verdict").tabIndex = -1;
  document.body.dataset.ready = "true";
}

window.dirfa = { render, verify };
document.addEventListener("DOMContentLoaded", init);
