// Article page: with no #pN in the address, go to the first passage the query matched.
// Replacing the fragment (no new history entry) scrolls there and makes it the :target.
(function () {
  "use strict";
  if (window.location.hash) {
    return;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var first = document.querySelector(".passage.match");
    if (first && first.id) {
      window.location.replace("#" + first.id);
    }
  });
})();
