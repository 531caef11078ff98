// Preload for node peers (NODE_OPTIONS="--require .../fixed_clock.cjs"): every
// Date#toLocaleTimeString() says 4:09:20 PM, so resources that embed the time of day (such as
// server-everything's dynamic text and blob resources) have the same bytes on every read.
"use strict";
Date.prototype.toLocaleTimeString = function () {
  return "4:09:20 PM";
};
