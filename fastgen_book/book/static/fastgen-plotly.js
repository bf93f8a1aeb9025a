// Light/dark colours for the book's Plotly charts.
// pydata-sphinx-theme sets <html data-theme="light|dark">; charts use transparent backgrounds,
// so only text and grid colours need to follow the theme.
(function () {
  "use strict";
  var PALETTE = {
    light: { text: "#222832", grid: "rgba(0,0,0,0.10)", zero: "rgba(0,0,0,0.25)" },
    dark: { text: "#ced6dd", grid: "rgba(255,255,255,0.12)", zero: "rgba(255,255,255,0.30)" },
  };

  function currentTheme() {
    return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
  }

  function styleOne(div) {
    if (!window.Plotly || !div || !div.layout) return;
    var c = PALETTE[currentTheme()];
    var update = { "font.color": c.text, "legend.font.color": c.text };
    Object.keys(div.layout).forEach(function (key) {
      if (/^(x|y)axis\d*$/.test(key)) {
        update[key + ".gridcolor"] = c.grid;
        update[key + ".zerolinecolor"] = c.zero;
        update[key + ".linecolor"] = c.zero;
      }
    });
    window.Plotly.relayout(div, update);
  }

  window.fastgenPlotlyTheme = function (plotId) {
    styleOne(document.getElementById(plotId));
  };

  function styleAll() {
    document.querySelectorAll(".js-plotly-plot").forEach(styleOne);
  }

  new MutationObserver(styleAll).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["data-theme"],
  });
})();
