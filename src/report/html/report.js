// The HTML report of kpi: filters by status, owner and tag, kept in the address
// (#status=missed,warn&owner=sales&tag=crm) so that a filtered view can be shared; and
// tooltips with the exact values. Without JavaScript the page shows everything, and the
// charts' native tooltips remain.
(function () {
  'use strict';
  document.documentElement.classList.add('js');

  var items = Array.prototype.slice.call(document.querySelectorAll('[data-kpi]'));
  var cards = items.filter(function (el) { return el.classList.contains('card'); });
  var buttons = Array.prototype.slice.call(document.querySelectorAll('[data-filter-status]'));
  var owner = document.getElementById('filter-owner');
  var tag = document.getElementById('filter-tag');
  var shown = document.getElementById('shown');
  var state = { statuses: [], owner: '', tag: '' };

  function readHash() {
    var params = new URLSearchParams(window.location.hash.slice(1));
    var statuses = params.get('status');
    state.statuses = statuses ? statuses.split(',').filter(Boolean) : [];
    state.owner = params.get('owner') || '';
    state.tag = params.get('tag') || '';
  }

  function writeHash() {
    var params = new URLSearchParams();
    if (state.statuses.length) { params.set('status', state.statuses.join(',')); }
    if (state.owner) { params.set('owner', state.owner); }
    if (state.tag) { params.set('tag', state.tag); }
    var text = params.toString();
    var url = window.location.pathname + window.location.search + (text ? '#' + text : '');
    try {
      window.history.replaceState(null, '', url);
    } catch (e) {
      // Some viewers forbid changing the address; the filter still applies.
    }
  }

  function tagsOf(el) {
    try {
      return JSON.parse(el.getAttribute('data-tags') || '[]');
    } catch (e) {
      return [];
    }
  }

  // A KPI that could not be computed has no known owner or tags: the owner and tag filters
  // never hide it, only the status filter does.
  function matches(el) {
    var status = el.getAttribute('data-status');
    var unknown = status === 'error';
    return (state.statuses.length === 0 || state.statuses.indexOf(status) >= 0) &&
      (unknown || !state.owner || el.getAttribute('data-owner') === state.owner) &&
      (unknown || !state.tag || tagsOf(el).indexOf(state.tag) >= 0);
  }

  function apply() {
    items.forEach(function (el) { el.hidden = !matches(el); });
    buttons.forEach(function (b) {
      b.setAttribute('aria-pressed', String(state.statuses.indexOf(b.getAttribute('data-filter-status')) >= 0));
    });
    if (owner) { owner.value = state.owner; }
    if (tag) { tag.value = state.tag; }
    if (shown) {
      var visible = cards.filter(function (el) { return !el.hidden; }).length;
      shown.textContent = 'showing ' + visible + ' of ' + cards.length + ' KPIs';
    }
  }

  buttons.forEach(function (b) {
    b.addEventListener('click', function () {
      var status = b.getAttribute('data-filter-status');
      var at = state.statuses.indexOf(status);
      if (at >= 0) { state.statuses.splice(at, 1); } else { state.statuses.push(status); }
      writeHash();
      apply();
    });
  });
  [owner, tag].forEach(function (select) {
    if (!select) { return; }
    select.addEventListener('change', function () {
      state.owner = owner ? owner.value : '';
      state.tag = tag ? tag.value : '';
      writeHash();
      apply();
    });
  });
  var clear = document.getElementById('filter-clear');
  if (clear) {
    clear.addEventListener('click', function () {
      state = { statuses: [], owner: '', tag: '' };
      writeHash();
      apply();
    });
  }
  window.addEventListener('hashchange', function () {
    // A card's link (#kpi-…) scrolls to the KPI; only a filter address changes the filters.
    if (window.location.hash.indexOf('=') >= 0) { readHash(); apply(); }
  });
  if (window.location.hash.indexOf('=') >= 0) { readHash(); }
  apply();

  // Tooltips: the text of each point's <title>, shown at once next to the pointer. The title
  // becomes the point's label, so that the browser's own tooltip does not show twice.
  var tip = document.createElement('div');
  tip.className = 'tip';
  tip.setAttribute('role', 'tooltip');
  tip.hidden = true;
  document.body.appendChild(tip);
  Array.prototype.slice.call(document.querySelectorAll('.point > title')).forEach(function (t) {
    var g = t.parentNode;
    g.setAttribute('data-tip', t.textContent);
    g.setAttribute('aria-label', t.textContent);
    g.removeChild(t);
  });
  Array.prototype.slice.call(document.querySelectorAll('.heat td[title]')).forEach(function (td) {
    td.setAttribute('data-tip', td.getAttribute('title'));
    td.removeAttribute('title');
  });
  function place(event) {
    var x = event.clientX + 14;
    var y = event.clientY + 14;
    var box = tip.getBoundingClientRect();
    if (x + box.width > window.innerWidth - 4) { x = event.clientX - box.width - 10; }
    if (y + box.height > window.innerHeight - 4) { y = event.clientY - box.height - 10; }
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  document.addEventListener('mouseover', function (event) {
    var target = event.target.closest ? event.target.closest('[data-tip]') : null;
    if (!target) { tip.hidden = true; return; }
    tip.textContent = target.getAttribute('data-tip');
    tip.hidden = false;
    place(event);
  });
  document.addEventListener('mousemove', function (event) {
    if (!tip.hidden) { place(event); }
  });
}());
