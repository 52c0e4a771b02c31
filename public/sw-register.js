// Registers Berth's service worker (public/sw.js: the app shell only). A file rather than an
// inline script, so that the pages' Content-Security-Policy allows Berth's own files only.
if ("serviceWorker" in navigator) {
  window.addEventListener("load", () => navigator.serviceWorker.register("/sw.js"));
}
