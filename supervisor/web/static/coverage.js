// The coverage map: one square per UTC day, coloured by stored / expected candles.
"use strict";

const Coverage = {
  render(element, summary, days) {
    element.replaceChildren();
    let stored = 0, expected = 0, lost = 0;
    for (const day of days) {
      stored += day.stored; expected += day.expected; lost += day.lost || 0;
      const cell = document.createElement("i");
      const ratio = day.expected ? day.stored / day.expected : 1;
      let kind = ratio >= 1 ? "full" : ratio > 0 ? "partial" : "empty";
      if (day.lost) kind = "lost";
      cell.className = "day " + kind;
      const date = new Date(day.day).toISOString().slice(0, 10);
      cell.title = `${date}: ${day.stored}/${day.expected} stored` + (day.lost ? `, ${day.lost} lost for good` : "");
      element.append(cell);
    }
    const pct = expected ? (100 * stored / expected).toFixed(2) : "100";
    summary.textContent = days.length ? `${days.length} days, ${pct}% stored, ${lost} lost for good` : "nothing stored";
  },
};
