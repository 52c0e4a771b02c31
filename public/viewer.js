// The desktop of one session, drawn by noVNC's RFB client. The client code is Berth's own
// (/novnc/, from the pinned npm package); only the stream comes from the session, through
// Berth's proxy (/desktop/<kasm_id>/websockify), which checks the signed-in user's cookie.
// Nothing a container serves is ever run in this page. The session page (the parent) talks to this
// frame with JSON strings over postMessage: paste, reconnect, focus; we answer connected,
// disconnected and clipboard; files dropped on the desktop are posted up as a FileList.
const params = new URLSearchParams(location.search);
const kasm = params.get("kasm") || "";
// For a viewer, noVNC sends no input (the proxy drops it anyway).
const viewOnly = params.get("view_only") === "1";
const screen = document.getElementById("screen");
const post = (message) => parent.postMessage(JSON.stringify(message), location.origin);
let rfb = null;
let everConnected = false;

// A failed start (Chromium aborts requests with ERR_NETWORK_CHANGED while Docker adds
// network interfaces for new containers) is retried with a fresh document: the browser
// remembers failed module loads for the life of a document.
const attempt = Number(params.get("attempt") || "0");
function retryOrGiveUp() {
  if (attempt < 8) {
    params.set("attempt", String(attempt + 1));
    setTimeout(() => location.replace(`${location.pathname}?${params}`), 250 * (attempt + 1));
  } else {
    post({ type: "disconnected" });
  }
}

async function connect() {
  if (!/^[0-9a-fA-F-]{32,36}$/.test(kasm)) throw new Error("no session given");
  const { default: RFB } = await import("/novnc/core/rfb.js");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  screen.replaceChildren();
  rfb = new RFB(screen, `${scheme}://${location.host}/desktop/${kasm}/websockify`);
  rfb.scaleViewport = true;
  rfb.resizeSession = !viewOnly;
  rfb.viewOnly = viewOnly;
  rfb.addEventListener("connect", () => {
    everConnected = true;
    window.berthConnected = true;
    post({ type: "connected" });
    rfb.focus();
  });
  rfb.addEventListener("disconnect", () => {
    window.berthConnected = false;
    if (everConnected) post({ type: "disconnected" });
    else retryOrGiveUp();
  });
  rfb.addEventListener("clipboard", (event) => post({ type: "clipboard", text: event.detail.text }));
  window.berthRfb = rfb;
}

window.addEventListener("message", (event) => {
  if (event.origin !== location.origin) return;
  let message;
  try { message = JSON.parse(event.data); } catch { return; }
  if (message.type === "paste" && rfb) rfb.clipboardPasteFrom(String(message.text));
  if (message.type === "focus" && rfb) rfb.focus();
  if (message.type === "reconnect") {
    if (rfb) { try { rfb.disconnect(); } catch {} }
    connect().catch(() => post({ type: "disconnected" }));
  }
});

connect().catch(retryOrGiveUp);

// Files dropped on the desktop go to the session page, which uploads them into ~/Uploads
// (when the owner's groups allow uploads; a viewer's page ignores them). Only the owner's
// page has the panel that listens.
if (!viewOnly) {
  const carriesFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
  document.addEventListener("dragover", (event) => {
    if (carriesFiles(event)) { event.preventDefault(); event.dataTransfer.dropEffect = "copy"; }
  });
  document.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    if (event.dataTransfer.files.length) parent.postMessage(event.dataTransfer.files, location.origin);
  });
}
