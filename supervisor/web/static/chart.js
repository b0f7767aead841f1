// The candlestick chart of one market (TradingView Lightweight Charts, vendored).
"use strict";

const CandleChart = (() => {
  const toBar = (row) => ({
    time: Math.floor(row.time / 1000),
    open: Number(row.open), high: Number(row.high), low: Number(row.low), close: Number(row.close),
  });

  class CandleChart {
    constructor(element) {
      const lwc = window.LightweightCharts;
      this.chart = lwc.createChart(element, {
        autoSize: true,
        layout: { background: { color: "#181e24" }, textColor: "#d8dee4" },
        grid: { vertLines: { color: "#222a31" }, horzLines: { color: "#222a31" } },
        timeScale: { timeVisible: true, secondsVisible: false },
        rightPriceScale: { borderColor: "#2a323a" },
      });
      this.series = this.chart.addSeries(lwc.CandlestickSeries, {
        upColor: "#26a69a", downColor: "#ef5350", borderVisible: false,
        wickUpColor: "#26a69a", wickDownColor: "#ef5350",
      });
      this.last = null;
    }

    // rows: objects with time (ms), open, high, low, close (decimal strings), oldest first
    setRows(rows) {
      const decimals = Math.min(8, Math.max(0, ...rows.slice(-200).map((r) => (String(r.close).split(".")[1] || "").length)));
      this.series.applyOptions({ priceFormat: { type: "price", precision: decimals, minMove: 10 ** -decimals } });
      const bars = rows.map(toBar);
      this.series.setData(bars);
      this.last = bars.length ? bars[bars.length - 1] : null;
      this.chart.timeScale().fitContent();
      return bars.length;
    }

    // An update of the open candle or a new one; older candles (history being filled) are ignored.
    update(row) {
      const bar = toBar(row);
      if (this.last && bar.time < this.last.time) return false;
      this.series.update(bar);
      this.last = bar;
      return true;
    }
  }
  return CandleChart;
})();
