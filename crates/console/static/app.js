// Ward console: small progressive enhancements. Every page works without
// this file; with it, badges update live, copy buttons copy, and dialogs
// open. Text from the server is only ever set with textContent.
(function () {
  'use strict';

  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  // ---- Announcements for screen readers ----
  var announcer = document.createElement('div');
  announcer.className = 'visually-hidden';
  announcer.setAttribute('aria-live', 'polite');
  document.addEventListener('DOMContentLoaded', function () { document.body.appendChild(announcer); });
  function announce(text) { announcer.textContent = ''; setTimeout(function () { announcer.textContent = text; }, 30); }

  // ---- Relative times: the same rules as view/fmt.rs relative() ----
  function relative(then, now) {
    var s = Math.floor((now - then) / 1000);
    if (s < 5) return 'just now';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }
  function absolute(ms) {
    return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }
  var clockOffset = 0; // server now - browser now
  function refreshTimes() {
    var now = Date.now() + clockOffset;
    $$('time[data-ts]').forEach(function (t) {
      var ms = Number(t.dataset.ts);
      if (ms > 0) t.textContent = relative(ms, now);
    });
  }
  function setTime(holder, ms, noneText) {
    if (!holder) return;
    var t = $('time[data-ts]', holder);
    if (ms == null) {
      if (!t) return;
      holder.textContent = noneText;
      return;
    }
    if (!t) {
      holder.textContent = '';
      t = document.createElement('time');
      holder.appendChild(t);
    }
    t.dataset.ts = String(ms);
    t.setAttribute('datetime', new Date(ms).toISOString());
    t.title = absolute(ms);
    t.textContent = relative(ms, Date.now() + clockOffset);
  }

  // ---- Copy buttons ----
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(function () { return true; }, function () { return fallbackCopy(text); });
    }
    return Promise.resolve(fallbackCopy(text));
  }
  function fallbackCopy(text) {
    var ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.className = 'copy-scratch';
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }
  document.addEventListener('click', function (e) {
    var btn = e.target.closest('[data-copy]');
    if (!btn) return;
    var src = document.getElementById(btn.dataset.copy);
    if (!src) return;
    copyText(src.textContent).then(function (ok) {
      var label = $('[data-copy-text]', btn);
      btn.classList.toggle('copied', ok);
      if (label) label.textContent = ok ? 'Copied' : 'Press Ctrl+C';
      if (!ok) {
        var range = document.createRange();
        range.selectNodeContents(src);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
      }
      announce(ok ? 'Copied to the clipboard' : 'Select and copy the text');
      setTimeout(function () {
        btn.classList.remove('copied');
        if (label) label.textContent = 'Copy';
      }, 2000);
    });
  });

  // ---- Auto-submitting selects ----
  document.addEventListener('change', function (e) {
    var sel = e.target.closest('select[data-autosubmit]');
    if (sel && sel.form) sel.form.requestSubmit();
  });

  // ---- Selection and the bulk bar ----
  function boxes() { return $$('input[type="checkbox"][name="id"]'); }
  function updateBulk() {
    var all = boxes();
    var picked = all.filter(function (b) { return b.checked; });
    var bar = $('#bulk-bar');
    if (bar) {
      bar.hidden = picked.length === 0;
      var c = $('#bulk-count', bar);
      if (c) c.textContent = picked.length + ' selected';
    }
    $$('[data-select-all]').forEach(function (master) {
      master.checked = all.length > 0 && picked.length === all.length;
      master.indeterminate = picked.length > 0 && picked.length < all.length;
    });
  }
  document.addEventListener('change', function (e) {
    if (e.target.matches('[data-select-all]')) {
      var on = e.target.checked;
      boxes().forEach(function (b) { b.checked = on; });
    }
    if (e.target.matches('[data-select-all], input[name="id"]')) updateBulk();
  });

  // ---- Uninstall dialog ----
  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }
  function openUninstall(targets) {
    var dlg = $('#uninstall-dialog');
    if (!dlg || targets.length === 0) return;
    var list = $('#uninstall-list', dlg);
    var ids = $('#uninstall-ids', dlg);
    list.textContent = '';
    ids.textContent = '';
    var offline = 0;
    targets.forEach(function (t) {
      var li = document.createElement('li');
      var host = document.createElement('span');
      host.className = 'host';
      host.textContent = t.hostname;
      var flag = document.createElement('span');
      if (t.online) {
        flag.className = 'flag flag-online';
        flag.textContent = 'online — receives it now';
      } else {
        offline += 1;
        flag.className = 'flag flag-offline';
        flag.textContent = 'offline — can\u2019t receive it now';
      }
      li.appendChild(host);
      li.appendChild(flag);
      list.appendChild(li);
      var input = document.createElement('input');
      input.type = 'hidden';
      input.name = 'id';
      input.value = t.id;
      ids.appendChild(input);
    });
    var count = $('#uninstall-count', dlg);
    if (count) count.textContent = plural(targets.length, 'server') + (offline ? ' (' + offline + ' offline)' : '');
    dlg.showModal();
  }
  document.addEventListener('click', function (e) {
    var btn = e.target.closest('[data-open-uninstall]');
    if (btn) {
      var targets;
      if (btn.dataset.assetId) {
        targets = [{ id: btn.dataset.assetId, hostname: btn.dataset.hostname, online: btn.dataset.online === '1' }];
      } else {
        targets = boxes().filter(function (b) { return b.checked; }).map(function (b) {
          return { id: b.value, hostname: b.dataset.hostname, online: b.dataset.online === '1' };
        });
      }
      openUninstall(targets);
      return;
    }
    var close = e.target.closest('[data-close-dialog]');
    if (close) {
      var d = close.closest('dialog');
      if (d) d.close();
    }
  });

  // ---- Confirmation for forms with data-confirm ----
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form.matches('form[data-confirm]') || form.dataset.confirmed === '1') return;
    var dlg = $('#confirm-dialog');
    if (!dlg) return; // no dialog: let the browser submit
    e.preventDefault();
    $('#confirm-text', dlg).textContent = form.dataset.confirm;
    $('#confirm-ok', dlg).textContent = form.dataset.confirmOk || 'Confirm';
    dlg.returnValue = '';
    dlg.addEventListener('close', function onClose() {
      dlg.removeEventListener('close', onClose);
      if (dlg.returnValue === 'ok') {
        form.dataset.confirmed = '1';
        form.requestSubmit();
      }
    });
    dlg.showModal();
    $('#confirm-ok', dlg).focus();
  });

  // ---- Live status: poll a small JSON document ----
  var POLL_MS = 2000;
  function liveIds() {
    var seen = {};
    $$('[data-asset-id]').forEach(function (el) { seen[el.dataset.assetId] = true; });
    return Object.keys(seen);
  }
  function applyBadge(badge, a) {
    badge.className = 'badge tone-' + a.tone;
    var label = $('[data-badge-label]', badge);
    var reason = $('[data-badge-reason]', badge);
    if (label) label.textContent = a.label;
    if (reason) reason.textContent = a.reason ? ' \u00b7 ' + a.reason : '';
  }
  function applyLive(data) {
    clockOffset = data.now - Date.now();
    Object.keys(data.assets).forEach(function (id) {
      var a = data.assets[id];
      $$('[data-asset-id]').forEach(function (el) {
        if (el.dataset.assetId !== id) return;
        var badge = $('[data-badge]', el);
        if (badge) {
          var before = badge.textContent;
          applyBadge(badge, a);
          if (before !== badge.textContent && el.tagName === 'TR') announce(badge.textContent);
        }
        $$('[data-live="last-seen"]', el).forEach(function (h) { setTime(h, a.last_seen, 'Never'); });
        $$('[data-live="since"]', el).forEach(function (h) { setTime(h, a.since, ''); });
        $$('input[name="id"]', el).forEach(function (b) { b.dataset.online = a.online ? '1' : '0'; });
        if (el.matches('[data-open-uninstall]')) el.dataset.online = a.online ? '1' : '0';
      });
    });
    var c = data.counts;
    var values = {
      total: c.total, protected: c.protected, offline: c.offline + c.unprotected_other,
      never_connected: c.never_connected, uninstalled: c.uninstalled, updating: c.updating,
      protected_pct: data.protected_pct
    };
    $$('[data-count]').forEach(function (el) {
      var v = values[el.dataset.count];
      if (typeof v === 'number') el.textContent = v.toLocaleString('en-US');
    });
    refreshTimes();
  }
  var polling = false;
  function poll() {
    if (document.hidden) { schedule(); return; }
    var ids = liveIds();
    fetch('/console/live?ids=' + encodeURIComponent(ids.join(',')), {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      cache: 'no-store'
    }).then(function (r) {
      if (r.status === 401) {
        window.location.assign('/console/signin?next=' + encodeURIComponent(location.pathname + location.search));
        return null;
      }
      return r.ok ? r.json() : null;
    }).then(function (data) {
      if (data) {
        document.documentElement.dataset.live = 'ok';
        applyLive(data);
      }
    }).catch(function () {
      document.documentElement.dataset.live = 'error';
    }).then(schedule);
  }
  function schedule() { setTimeout(poll, POLL_MS); }

  document.addEventListener('DOMContentLoaded', function () {
    updateBulk();
    refreshTimes();
    if (!polling && ($('[data-asset-id]') || $('[data-count]'))) {
      polling = true;
      schedule();
    }
    setInterval(refreshTimes, 10000);
  });
})();
