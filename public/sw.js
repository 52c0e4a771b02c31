// Berth's service worker: caches the app shell (the WASM bundle, script, styles, icons) so the
// app starts fast and installs as a PWA. It never caches or even touches sessions, server
// functions or APIs: those always go to the network.
const CACHE = "berth-shell-v1";
const SHELL = [
  "/pkg/berth.js",
  "/pkg/berth.wasm",
  "/pkg/berth_bg.wasm",
  "/pkg/berth.css",
  "/manifest.webmanifest",
  "/offline.html",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
];
const NEVER = ["/desktop/", "/rpc/", "/api/", "/chat/", "/join/", "/readyz", "/go/", "/viewer.html"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  if (NEVER.some((prefix) => url.pathname.startsWith(prefix))) return;

  // Pages: always fresh from the server (they depend on who is signed in); offline page as
  // the fallback. Never cached.
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match("/offline.html")));
    return;
  }
  // Shell files: from the cache at once, refreshed in the background.
  if (SHELL.includes(url.pathname)) {
    event.respondWith(
      caches.open(CACHE).then(async (cache) => {
        const cached = await cache.match(request);
        const fresh = fetch(request)
          .then((response) => {
            if (response.ok) cache.put(request, response.clone());
            return response;
          })
          .catch(() => cached);
        return cached || fresh;
      }),
    );
  }
});
