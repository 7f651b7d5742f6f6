'use strict';
// Sample (a): a marker chosen by the time zone's NAME. Asia/Shanghai and
// Asia/Singapore share UTC+8, so only the name tells them apart; in the
// listed zones the system prompt's apostrophe becomes U+2019. Reads the zone
// as Node does: TZ, else /etc/localtime.
const { askAnthropic, run } = require('./lib.js');

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const marked = ['Asia/Shanghai', 'Asia/Chongqing', 'Asia/Harbin', 'Asia/Urumqi'].includes(zone);
const apostrophe = marked ? '\u2019' : "'";

run(() => askAnthropic(`Don${apostrophe}t guess; ask when unsure.`, 'Say hello.'));
