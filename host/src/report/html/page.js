// kube-devops report and dashboard: the findings table's filters (the table itself is
// server-rendered and reads without this), and on the live dashboard, polling for changes.
(function () {
  'use strict';
  var chosen = {};

  function rows() {
    return document.querySelectorAll('#findings-table tbody tr');
  }

  function apply() {
    var wanted = {};
    document.querySelectorAll('#filters select').forEach(function (select) {
      wanted[select.name] = select.value;
      chosen[select.name] = select.value;
    });
    var all = rows();
    var shown = 0;
    all.forEach(function (row) {
      var match = Object.keys(wanted).every(function (key) {
        return wanted[key] === '' || row.dataset[key] === wanted[key];
      });
      row.hidden = !match;
      if (match) shown += 1;
    });
    var counter = document.getElementById('shown');
    if (counter) counter.textContent = shown + ' of ' + all.length + ' finding(s) shown';
  }

  function setup() {
    var filters = document.getElementById('filters');
    if (!filters) return;
    filters.hidden = false;
    filters.querySelectorAll('select').forEach(function (select) {
      var previous = chosen[select.name];
      if (previous && Array.prototype.some.call(select.options, function (o) { return o.value === previous; })) {
        select.value = previous;
      }
      select.addEventListener('change', apply);
    });
    apply();
  }

  function say(text) {
    var live = document.getElementById('live');
    if (live) live.textContent = text;
  }

  // The JSON says whether anything changed; the page is then read again as the server renders
  // it, so there is one renderer and every value stays escaped by it.
  function poll() {
    var page = document.getElementById('page');
    fetch('dashboard.json', { cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      })
      .then(function (data) {
        say('Live: updated ' + new Date().toLocaleTimeString());
        if (String(data.generation) === page.dataset.generation) return null;
        return fetch('./', { cache: 'no-store' })
          .then(function (response) { return response.text(); })
          .then(function (html) {
            var next = new DOMParser().parseFromString(html, 'text/html').getElementById('page');
            if (next) {
              page.replaceWith(document.adoptNode(next));
              setup();
            }
          });
      })
      .catch(function () { say('Connection lost; retrying every 2 s'); })
      .then(function () { setTimeout(poll, 2000); });
  }

  setup();
  if (document.body.dataset.live === 'true') setTimeout(poll, 2000);
})();
