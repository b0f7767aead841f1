// The coverage map: one square per UTC day, coloured by what of the expected candles is stored.
"use strict";

const Coverage = {
  kind(day) {
    if (day.lost) return "lost";
    if (day.complete) return "full";
    return day.stored ? "partial" : "empty";
  },

  render(element, summary, days) {
    element.replaceChildren();
    let stored = 0, expected = 0, lost = 0, missing = 0;
    for (const day of days) {
      stored += day.stored; expected += day.expected; lost += day.lost; missing += day.missing;
      const cell = document.createElement("i");
      cell.className = "day " + Coverage.kind(day);
      const date = new Date(day.day).toISOString().slice(0, 10);
      cell.title = `${date}: ${day.stored} of ${day.expected} stored` +
        (day.empty ? `, ${day.empty} without trades` : "") + (day.missing ? `, ${day.missing} missing` : "") +
        (day.lost ? `, ${day.lost} lost for good` : "");
      element.append(cell);
    }
    summary.textContent = days.length
      ? `${days.length} ${days.length === 1 ? "day" : "days"}, ${stored} of ${expected} candles stored, ${missing} missing, ${lost} lost for good`
      : "nothing stored";
  },
};
