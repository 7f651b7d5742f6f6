// expect-not: env-probe/timezone
// expect-not: env-probe/environment-dependent-output
// The word "date" names an HTTP header or a field type far more often than
// it runs the `date` command, which reads the zone only when asked for it
// (`date +%Z`): a bare "date" is not a time-zone probe.
function age(res){ const d=res.headers["date"]; return d ? Date.now()-Date.parse(d) : 0; }
const FIELD_TYPES=["date","time","datetime"];
function kind(f){ if (FIELD_TYPES.includes(f.type)) return "temporal"; return "other"; }
module.exports={age,kind};
