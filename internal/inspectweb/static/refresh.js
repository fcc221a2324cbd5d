// Reloads a page of active workflows every data-refresh seconds, unless
// the reader is typing in one of its fields or the tab is hidden.
(function () {
  var secs = Number(document.body.dataset.refresh);
  if (!secs) return;
  setInterval(function () {
    var a = document.activeElement;
    if (document.hidden || (a && (a.tagName === "INPUT" || a.tagName === "SELECT"))) return;
    location.reload();
  }, secs * 1000);
})();
