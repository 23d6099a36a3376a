#include "minewatch/date.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Days from civil date: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms". */
mw_day mw_day_from_ymd(int y, int m, int d)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const int yoe = y - era * 400;
    const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void mw_day_to_ymd(mw_day z, int *y, int *m, int *d)
{
    z += 719468;
    const int era = (z >= 0 ? z : z - 146096) / 146097;
    const int doe = z - era * 146097;
    const int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int mw_day_parse(const char *s, mw_day *day, double *sod)
{
    if (!s || strlen(s) < 10 || s[4] != '-' || s[7] != '-') return -1;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return -1;
    double t = 0;
    const char *p = s + 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        /* "Thh:mm:ss": every position read lies within the text (a cut time reads no further) */
        if (strlen(p) < 9 || p[3] != ':' || p[6] != ':') return -1;
        int hh = digits(p + 1, 2), mi = digits(p + 4, 2), ss = digits(p + 7, 2);
        if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 60) return -1;
        t = hh * 3600.0 + mi * 60.0 + ss;
        p += 9;
        if (*p == '.') {
            char *end;
            double frac = strtod(p, &end);
            t += frac;
            p = end;
        }
        if (*p == 'Z' || *p == 'z')
            p++;
        else if (strncmp(p, "+00:00", 6) == 0)
            p += 6;
        else if (*p)
            return -1; /* non-UTC offsets are not accepted: STAC datetimes are UTC */
    }
    if (*p) return -1;
    *day = mw_day_from_ymd(y, m, d);
    if (sod) *sod = t;
    return 0;
}

void mw_day_format(mw_day day, char buf[static 11])
{
    int y, m, d;
    mw_day_to_ymd(day, &y, &m, &d);
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
    memcpy(buf, tmp, 10);
    buf[10] = '\0';
}
