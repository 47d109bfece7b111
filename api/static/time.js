// Times in the course's time zone (<body data-timezone>, AUTOGRADER_COURSE_TIMEZONE), the
// same on every page and the same as the server writes them: "2026-12-01 23:59 UTC+0800".
// Date inputs (datetime-local) hold wall-clock times in that zone, whatever the browser's.
"use strict";
window.CourseTime = (function () {
  function zone() {
    return (document.body && document.body.dataset.timezone) || "UTC";
  }

  function parts(date) {
    const fields = {};
    const format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone(), hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", timeZoneName: "longOffset",
    });
    for (const part of format.formatToParts(date)) fields[part.type] = part.value;
    return fields;
  }

  // Minutes east of UTC of the course's zone at ``date``.
  function offsetMinutes(date) {
    const match = /GMT([+-])(\d{2}):(\d{2})/.exec(parts(date).timeZoneName || "");
    if (!match) return 0; // "GMT": UTC itself
    return (match[1] === "-" ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]));
  }

  function offsetText(minutes) {
    const sign = minutes < 0 ? "-" : "+";
    const abs = Math.abs(minutes);
    return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}${String(abs % 60).padStart(2, "0")}`;
  }

  function when(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    const p = parts(date);
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} ${offsetText(offsetMinutes(date))}`;
  }

  // An instant as a datetime-local value in the course's zone ("" for none).
  function toInput(iso) {
    if (!iso) return "";
    const p = parts(new Date(iso));
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
  }

  // A datetime-local value, read as a time in the course's zone, as an ISO instant.
  function fromInput(value) {
    if (!value) return null;
    const asUtc = Date.parse(`${value}:00Z`);
    if (Number.isNaN(asUtc)) return null;
    let instant = asUtc - offsetMinutes(new Date(asUtc)) * 60000;
    const again = asUtc - offsetMinutes(new Date(instant)) * 60000; // across a DST change
    if (again !== instant) instant = again;
    return new Date(instant).toISOString();
  }

  // The zone as people read it next to an input: "Asia/Shanghai, UTC+0800".
  function label() {
    return `${zone()}, ${offsetText(offsetMinutes(new Date()))}`;
  }

  return { zone, when, toInput, fromInput, label };
})();
