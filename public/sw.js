// Berth's service worker. It keeps the app shell (the WASM bundle, its script, the styles,
// the manifest and icons) so the app starts fast and installs as a PWA, and it shows a small
// offline page when a navigation cannot reach the server.
//
// It never caches, or even looks at, sessions, server functions, APIs, chat, share links or
// health checks: those requests get no respondWith and go to the network untouched.
const VERSION = 4;
const CACHE = `berth-shell-v${VERSION}`;
const OFFLINE = "/offline.html";
const SHELL = [
  "/pkg/berth.js",
  // The bundle the app loads (the build also writes berth_bg.wasm, the same bytes under
  // wasm-bindgen's own name: caching both would double what the browser stores).
  "/pkg/berth.wasm",
  "/pkg/berth.css",
  "/manifest.webmanifest",
  OFFLINE,
  "/offline.css",
  "/sw-register.js",
  "/icons/icon.svg",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
  "/icons/icon-maskable-512.png",
  "/icons/apple-touch-icon.png",
  "/icons/favicon-32.png",
];
const NEVER = ["/desktop/", "/rpc/", "/api/", "/readyz", "/join/", "/chat/", "/go/", "/viewer.html", "/viewer.js", "/viewer.css"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      // One by one, past the HTTP cache: a file this build lacks must not stop the install.
      Promise.all(
        SHELL.map((path) =>
          fetch(new Request(path, { cache: "reload" }))
            .then((response) => (response.ok ? cache.put(path, response) : undefined))
            .catch(() => undefined),
        ),
      ),
    ).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter((key) => key.startsWith("berth-") && key !== CACHE)
            .map((key) => caches.delete(key)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (NEVER.some((prefix) => url.pathname === prefix.replace(/\/$/, "") || url.pathname.startsWith(prefix))) return;

  // Pages: network first. They depend on who is signed in, so they are never cached; when
  // the network fails, the offline page stands in.
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).catch(async () => (await caches.match(OFFLINE)) || Response.error()),
    );
    return;
  }

  // Shell files: from the cache at once, refreshed in the background for the next load.
  if (SHELL.includes(url.pathname)) {
    const refresh = caches.open(CACHE).then((cache) =>
      fetch(request, { cache: "no-cache" })
        .then((response) => {
          if (response.ok) cache.put(url.pathname, response.clone());
          return response;
        })
        .catch(() => undefined),
    );
    event.waitUntil(refresh.then(() => undefined));
    event.respondWith(
      caches.match(url.pathname, { cacheName: CACHE }).then(
        (cached) => cached || refresh.then((response) => response || Response.error()),
      ),
    );
  }
  // Anything else: no respondWith, so the browser fetches it as usual.
});
