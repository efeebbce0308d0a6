/* The crew canvas: SortableJS on the member list and the agent library, htmx posts the result.
 *
 * Both lists live in one form (#canvas-form, hx-trigger="end"). SortableJS fires "end" on the list
 * a drag started from, and the event bubbles to the form, so every drag ends in one POST of the
 * member cards' hidden inputs, in their new order. The server tells a reorder, an add (one card
 * more) and a removal (one card fewer) apart, saves, and sends back the re-rendered canvas.
 *
 * Library cards carry a disabled input, so they are not posted until they land on the crew.
 * Without JS none of this runs and the Add / ↑ / ↓ / ✕ buttons do the same through plain forms.
 */
(function () {
  "use strict";

  function setPosted(card, posted) {
    var input = card.querySelector('input[name="agent"]');
    if (input) input.disabled = !posted;
  }

  function makeSortable(list) {
    if (list.dataset.sortableReady) return;
    list.dataset.sortableReady = "1";
    var isLibrary = list.dataset.sortable === "library";
    new Sortable(list, {
      group: { name: "crew", pull: isLibrary ? "clone" : true, put: true },
      sort: !isLibrary, // the library keeps its own (alphabetical) order
      draggable: ".agent-card",
      filter: "button",
      preventOnFilter: false, // let the buttons on a card still be clicked
      animation: 150,
      ghostClass: "is-ghost",
      chosenClass: "is-chosen",
      onAdd: function (evt) {
        setPosted(evt.item, !isLibrary); // landed on the crew: post it; back in the library: don't
        var hint = list.querySelector(".drop-hint");
        if (hint) hint.remove();
      },
    });
  }

  // Keyboard use: the canvas is re-rendered after each action, so put the focus back on the
  // same control (or, when it is now disabled or gone, on another one for the same agent).
  var pressed = null;
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail.elt;
    pressed = elt && elt.matches && elt.matches("#canvas button[name][value]")
      ? { name: elt.name, value: elt.value } : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!pressed) return;
    var canvas = document.getElementById("canvas");
    var same = canvas && canvas.querySelector('button[name="' + pressed.name + '"][value="' + pressed.value + '"]:not([disabled])');
    var other = canvas && canvas.querySelector('button[value="' + pressed.value + '"]:not([disabled])');
    if (same || other) (same || other).focus();
    pressed = null;
  });

  htmx.onLoad(function (root) {
    if (typeof Sortable === "undefined") return;
    var lists = root.matches && root.matches("[data-sortable]") ? [root] : [];
    root.querySelectorAll("[data-sortable]").forEach(function (list) { lists.push(list); });
    lists.forEach(makeSortable);
  });
})();
