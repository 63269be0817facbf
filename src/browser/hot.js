// hot's browser client: reloads the page once a new instance of the service is ready, and shows
// a banner (in a shadow root, so the page's styles and scripts are untouched) while the build it
// sees is stale. No dependencies, no build step. Served by hot at /hot.js.
(function () {
  "use strict";
  if (window.__hot) return;
  var script = document.currentScript;
  var origin = script ? new URL(script.src).origin : "";
  var is503 = document.documentElement.hasAttribute("data-hot-unserved");
  var host = null, root = null, seen = null;
  window.__hot = { reloads: 0, state: null };

  function time(ms) {
    return ms ? new Date(ms).toLocaleTimeString([], { hour12: false }) : "";
  }

  // What the state says, in words: "serving the build from 14:02:11 — test failed".
  function describe(state) {
    var s = state.stale;
    if (!s) return null;
    var what = s.node + " " + s.status;
    if (!state.serving) return "no instance serves — " + what;
    return "serving the build from " + time(state.since_ms) + " — " + what;
  }

  function banner(state) {
    var text = describe(state);
    if (!text) {
      if (host) { host.remove(); host = null; root = null; }
      return;
    }
    if (!host) {
      host = document.createElement("hot-banner");
      host.setAttribute("data-hot-banner", "");
      root = host.attachShadow({ mode: "open" });
      (document.body || document.documentElement).appendChild(host);
    }
    root.innerHTML = "";
    var style = document.createElement("style");
    style.textContent =
      ":host{all:initial;position:fixed;z-index:2147483647;right:8px;bottom:8px;max-width:40em}" +
      "div{font:13px/1.4 system-ui,sans-serif;background:#3b2300;color:#fff;padding:8px 12px;" +
      "border-radius:6px;box-shadow:0 2px 8px #0006}" +
      "pre{font:12px/1.3 ui-monospace,monospace;margin:6px 0 0;white-space:pre-wrap;max-height:12em;overflow:auto}";
    var box = document.createElement("div");
    box.setAttribute("part", "banner");
    var line = document.createElement("strong");
    line.textContent = text; // textContent: build output is never parsed as HTML
    box.appendChild(line);
    var lines = (state.stale && state.stale.lines) || [];
    if (lines.length) {
      var pre = document.createElement("pre");
      pre.textContent = lines.join("\n");
      box.appendChild(pre);
    }
    root.appendChild(style);
    root.appendChild(box);
    window.__hot.banner = text;
  }

  function reload(css) {
    window.__hot.reloads++;
    if (css && css.length && !is503) {
      // A stylesheet-only change: swap the stylesheets instead of reloading the page.
      var links = document.querySelectorAll('link[rel="stylesheet"]');
      for (var i = 0; i < links.length; i++) {
        var url = new URL(links[i].href);
        url.searchParams.set("hot", Date.now());
        links[i].href = url.href;
      }
      return;
    }
    location.reload();
  }

  function connect() {
    var events = new EventSource(origin + "/events");
    events.addEventListener("state", function (e) {
      var state = JSON.parse(e.data);
      window.__hot.state = state;
      // A page that was served by an older instance than the one serving now is stale.
      if (seen !== null && state.generation !== seen && state.serving) {
        seen = state.generation;
        return reload(null);
      }
      seen = state.generation;
      if (is503) {
        if (state.serving) return location.reload();
        // The 503 page follows what happens without a reload: the headline and the output.
        var status = document.getElementById("hot-status");
        if (status) status.textContent = describe(state) || "starting";
        var output = document.getElementById("hot-output");
        if (output) {
          var lines = (state.stale && state.stale.lines) || [];
          output.textContent = lines.join("\n"); // as text, never parsed as HTML
          output.hidden = !lines.length;
        }
        return;
      }
      banner(state);
    });
    events.addEventListener("reload", function (e) {
      seen = JSON.parse(e.data).generation;
      reload(JSON.parse(e.data).css);
    });
  }
  connect();
})();
