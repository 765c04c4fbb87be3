// Dashboard charts: each draws the figures of the table printed beside it (one source of truth).
import * as echarts from "echarts";

function series(table) {
  const headers = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  const rows = [...table.querySelectorAll("tbody tr")].map((tr) =>
    [...tr.querySelectorAll("th, td")].map((cell) => cell.textContent.trim()),
  );
  return { headers, rows };
}

function draw(element) {
  const table = document.getElementById(element.dataset.table);
  const { headers, rows } = series(table);
  const kind = element.dataset.chart; // "bar", "stacked" or "line"
  const chart = echarts.init(element, null, { renderer: "svg" });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 40, right: 16, top: 32, bottom: 8, containLabel: true },
    // Every period named, long English ones wrapped, rather than ECharts dropping the ones that overlap.
    xAxis: {
      type: "category",
      data: rows.map((row) => row[0]),
      axisLabel: { interval: 0, hideOverlap: false, width: 72, overflow: "break" },
    },
    yAxis: { type: "value", minInterval: 1 },
    series: headers.slice(1).map((name, index) => ({
      name,
      type: kind === "line" ? "line" : "bar",
      stack: kind === "stacked" ? "total" : undefined,
      data: rows.map((row) => Number(row[index + 1]) || 0),
    })),
  });
  window.addEventListener("resize", () => chart.resize());
  element.dataset.ready = "true";
}

document.querySelectorAll("[data-chart]").forEach(draw);
