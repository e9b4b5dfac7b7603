"""The inspector's own reading of the two small languages inside Office packages: Excel formulas
(tokenised as Excel reads them: string literals, quoted sheet names, structured references,
operators) and Word field instructions (the field type is the first token, case-insensitive).
Each is judged against an allowlist of things that compute from the document alone. Written
independently of the converters: nothing here is shared with converters/ooxml*."""

from __future__ import annotations

import re

from converters.inspect.mail_links import mail_link_ok

SAFE_LINK = re.compile(r"(?:https?|mailto):", re.IGNORECASE)

# Worksheet functions that compute from the workbook alone. Left out on purpose, so they are
# problems: WEBSERVICE, FILTERXML, RTD, IMAGE, STOCKHISTORY, TRANSLATE, DETECTLANGUAGE, COPILOT, PY
# (reach the network or a service); CALL, REGISTER, REGISTER.ID, EXEC, SQL.REQUEST, EUROCONVERT
# (load code or add-ins); INFO (reads the host); DDE and the CUBE* functions (data connections);
# every Excel 4 macro function (GET.WORKBOOK, FOPEN, HALT, EVALUATE, ...). HYPERLINK is judged by
# its first argument. Newer functions are stored with _xlfn./_xlws./_xleta. prefixes, which are
# stripped; _xludf. marks a user-defined (add-in or VBA) function and is always a problem.
LOCAL_FUNCTIONS = frozenset("""
ABS ACCRINT ACCRINTM ACOS ACOSH ACOT ACOTH ADDRESS AGGREGATE AMORDEGRC AMORLINC AND ANCHORARRAY ARABIC AREAS
ARRAYTOTEXT ASC ASIN ASINH ATAN ATAN2 ATANH AVEDEV AVERAGE AVERAGEA AVERAGEIF AVERAGEIFS BAHTTEXT BASE BESSELI
BESSELJ BESSELK BESSELY BETA.DIST BETA.INV BETADIST BETAINV BIN2DEC BIN2HEX BIN2OCT BINOM.DIST BINOM.DIST.RANGE
BINOM.INV BINOMDIST BITAND BITLSHIFT BITOR BITRSHIFT BITXOR BYCOL BYROW CEILING CEILING.MATH CEILING.PRECISE CELL
CHAR CHIDIST CHIINV CHISQ.DIST CHISQ.DIST.RT CHISQ.INV CHISQ.INV.RT CHISQ.TEST CHITEST CHOOSE CHOOSECOLS
CHOOSEROWS CLEAN CODE COLUMN COLUMNS COMBIN COMBINA COMPLEX CONCAT CONCATENATE CONFIDENCE CONFIDENCE.NORM
CONFIDENCE.T CONVERT CORREL COS COSH COT COTH COUNT COUNTA COUNTBLANK COUNTIF COUNTIFS COUPDAYBS COUPDAYS
COUPDAYSNC COUPNCD COUPNUM COUPPCD COVAR COVARIANCE.P COVARIANCE.S CRITBINOM CSC CSCH CUMIPMT CUMPRINC DATE
DATEDIF DATESTRING DATEVALUE DAVERAGE DAY DAYS DAYS360 DB DBCS DCOUNT DCOUNTA DDB DEC2BIN DEC2HEX DEC2OCT DECIMAL
DEGREES DELTA DEVSQ DGET DISC DMAX DMIN DOLLAR DOLLARDE DOLLARFR DPRODUCT DROP DSTDEV DSTDEVP DSUM DURATION DVAR
DVARP ECMA.CEILING EDATE EFFECT ENCODEURL EOMONTH ERF ERF.PRECISE ERFC ERFC.PRECISE ERROR.TYPE EVEN EXACT EXP
EXPAND EXPON.DIST EXPONDIST F.DIST F.DIST.RT F.INV F.INV.RT F.TEST FACT FACTDOUBLE FALSE FDIST FIELDVALUE FILTER
FIND FINDB FINV FISHER FISHERINV FIXED FLOOR FLOOR.MATH FLOOR.PRECISE FORECAST FORECAST.ETS FORECAST.ETS.CONFINT
FORECAST.ETS.SEASONALITY FORECAST.ETS.STAT FORECAST.LINEAR FORMULATEXT FREQUENCY FTEST FV FVSCHEDULE GAMMA
GAMMA.DIST GAMMA.INV GAMMADIST GAMMAINV GAMMALN GAMMALN.PRECISE GAUSS GCD GEOMEAN GESTEP GETPIVOTDATA GROUPBY
GROWTH HARMEAN HEX2BIN HEX2DEC HEX2OCT HLOOKUP HOUR HSTACK HYPGEOM.DIST HYPGEOMDIST IF IFERROR IFNA IFS IMABS
IMAGINARY IMARGUMENT IMCONJUGATE IMCOS IMCOSH IMCOT IMCSC IMCSCH IMDIV IMEXP IMLN IMLOG10 IMLOG2 IMPOWER
IMPRODUCT IMREAL IMSEC IMSECH IMSIN IMSINH IMSQRT IMSUB IMSUM IMTAN INDEX INDIRECT INT INTERCEPT INTRATE IPMT
IRR ISBLANK ISERR ISERROR ISEVEN ISFORMULA ISLOGICAL ISNA ISNONTEXT ISNUMBER ISO.CEILING ISODD ISOMITTED
ISOWEEKNUM ISPMT ISREF ISTEXT JIS KURT LAMBDA LARGE LCM LEFT LEFTB LEN LENB LET LINEST LN LOG LOG10 LOGEST LOGINV
LOGNORM.DIST LOGNORM.INV LOGNORMDIST LOOKUP LOWER MAKEARRAY MAP MATCH MAX MAXA MAXIFS MDETERM MDURATION MEDIAN
MID MIDB MIN MINA MINIFS MINUTE MINVERSE MIRR MMULT MOD MODE MODE.MULT MODE.SNGL MONTH MROUND MULTINOMIAL MUNIT
N NA NEGBINOM.DIST NEGBINOMDIST NETWORKDAYS NETWORKDAYS.INTL NOMINAL NORM.DIST NORM.INV NORM.S.DIST NORM.S.INV
NORMDIST NORMINV NORMSDIST NORMSINV NOT NOW NPER NPV NUMBERSTRING NUMBERVALUE OCT2BIN OCT2DEC OCT2HEX ODD
ODDFPRICE ODDFYIELD ODDLPRICE ODDLYIELD OFFSET OR PDURATION PEARSON PERCENTILE PERCENTILE.EXC PERCENTILE.INC
PERCENTOF PERCENTRANK PERCENTRANK.EXC PERCENTRANK.INC PERMUT PERMUTATIONA PHI PHONETIC PI PIVOTBY PMT POISSON
POISSON.DIST POWER PPMT PRICE PRICEDISC PRICEMAT PROB PRODUCT PROPER PV QUARTILE QUARTILE.EXC QUARTILE.INC
QUOTIENT RADIANS RAND RANDARRAY RANDBETWEEN RANK RANK.AVG RANK.EQ RATE RECEIVED REDUCE REGEXEXTRACT REGEXREPLACE
REGEXTEST REPLACE REPLACEB REPT RIGHT RIGHTB ROMAN ROUND ROUNDDOWN ROUNDUP ROW ROWS RRI RSQ SCAN SEARCH SEARCHB
SEC SECH SECOND SEQUENCE SERIESSUM SHEET SHEETS SIGN SIN SINGLE SINH SKEW SKEW.P SLN SLOPE SMALL SORT SORTBY SQRT
SQRTPI STANDARDIZE STDEV STDEV.P STDEV.S STDEVA STDEVP STDEVPA STEYX SUBSTITUTE SUBTOTAL SUM SUMIF SUMIFS
SUMPRODUCT SUMSQ SUMX2MY2 SUMX2PY2 SUMXMY2 SWITCH SYD T T.DIST T.DIST.2T T.DIST.RT T.INV T.INV.2T T.TEST TAKE TAN
TANH TBILLEQ TBILLPRICE TBILLYIELD TDIST TEXT TEXTAFTER TEXTBEFORE TEXTJOIN TEXTSPLIT TIME TIMEVALUE TINV TOCOL
TODAY TOROW TRANSPOSE TREND TRIM TRIMMEAN TRIMRANGE TRUE TRUNC TTEST TYPE UNICHAR UNICODE UNIQUE UPPER USDOLLAR
VALUE VALUETOTEXT VAR VAR.P VAR.S VARA VARP VARPA VDB VLOOKUP VSTACK WEEKDAY WEEKNUM WEIBULL WEIBULL.DIST WORKDAY
WORKDAY.INTL WRAPCOLS WRAPROWS XIRR XLOOKUP XMATCH XNPV XOR YEAR YEARFRAC YEN YIELD YIELDDISC YIELDMAT Z.TEST
ZTEST""".split())
FUNCTION_PREFIXES = ("_XLFN.", "_XLWS.", "_XLETA.")

_ERRORS = r"\#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|GETTING_DATA|SPILL!|CALC!|FIELD!|BLOCKED!|CONNECT!|BUSY!|" \
          r"UNKNOWN!|PYTHON!|EXTERNAL!)"
TOKEN = re.compile(rf"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"]|"")*")
  | (?P<sheet>'(?:[^']|'')*')
  | (?P<err>{_ERRORS})
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>(?:[^\W\d]|[\\$])[\w.$?\\]*)
  | (?P<op><>|<=|>=|[-+*/^&=<>%:,;(){{}}!#@])
  | (?P<pipe>\|)
  | (?P<open>\[)
""", re.VERBOSE | re.IGNORECASE)
LOCAL_HASH_LINK = re.compile(r"#[^\[\]\\/]*")


def _bracket_end(text: str, start: int) -> int:
    """End (exclusive) of the bracket group opening at ``start``, nested brackets and the
    structured-reference escape character ' included; -1 when it never closes."""
    depth, index = 0, start
    while index < len(text):
        char = text[index]
        if char == "'":
            index += 2
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return -1


def tokenize(formula: str) -> list[tuple[str, str]] | None:
    """(kind, text) tokens; None when the text is not a formula Excel could read."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(formula):
        match = TOKEN.match(formula, position)
        if match is None or match.lastgroup is None:
            return None
        kind = match.lastgroup
        if kind == "open":
            end = _bracket_end(formula, position)
            if end < 0:
                return None
            tokens.append(("bracket", formula[position:end]))
            position = end
            continue
        tokens.append((kind, match.group()))
        position = match.end()
    return tokens


def function_name(raw: str) -> str:
    name = raw.upper()
    stripped = True
    while stripped:
        stripped = False
        for prefix in FUNCTION_PREFIXES:
            if name.startswith(prefix):
                name, stripped = name[len(prefix):], True
    return name


def _significant(tokens: list[tuple[str, str]], index: int, step: int) -> tuple[str, str]:
    index += step
    while 0 <= index < len(tokens) and tokens[index][0] == "ws":
        index += step
    return tokens[index] if 0 <= index < len(tokens) else ("", "")


def _adjacent(tokens: list[tuple[str, str]], index: int) -> tuple[str, str]:
    return tokens[index] if 0 <= index < len(tokens) else ("", "")


def _hyperlink_is_safe(tokens: list[tuple[str, str]], index: int) -> bool:
    """HYPERLINK(...) at ``index``: its whole first argument must be one string literal naming an
    http(s)/mailto address or a place inside this workbook (#Sheet2!A1)."""
    rest = [t for t in tokens[index + 1:] if t[0] != "ws"]
    if len(rest) < 3 or rest[0] != ("op", "(") or rest[1][0] != "str" or rest[2] not in (("op", ","), ("op", ")")):
        return False
    target = rest[1][1][1:-1].replace('""', '"').strip()
    return bool((SAFE_LINK.match(target) and mail_link_ok(target)) or LOCAL_HASH_LINK.fullmatch(target))


# Excel 4 macro functions without a dot in their name (the others all have one, GET.CELL...):
# a defined name spelt like one of these, or like a function that reaches outside, is never taken
# for a LAMBDA, since Excel may call the built-in function instead.
NOT_LAMBDAS = frozenset("""
ABSREF ALERT ARGUMENT BEEP BREAK CALL CALLER CANCEL COPILOT DDE DEREF DETECTLANGUAGE DIRECTORY DOCUMENTS ECHO
ELSE ERROR EUROCONVERT EVALUATE EXEC EXECUTE FCLOSE FILES FILTERXML FOPEN FOR FORMULA FPOS FREAD FREADLN FSIZE
FWRITE FWRITELN GOTO GROUP HALT HELP IMAGE INFO INITIATE INPUT LINKS NAMES NEXT PAUSE POKE PY REFTEXT REGISTER
RELREF REQUEST RESTART RESULT RESUME RETURN RTD RUN SELECTION STEP STOCKHISTORY TERMINATE TEXTREF TRANSLATE
UNREGISTER VOLATILE WAIT WEBSERVICE WHILE WINDOWS""".split())


def callable_name(name: str) -> bool:
    """Whether a call to ``name`` (not a worksheet function) may be a call to a LAMBDA name."""
    return "." not in name and name.upper() not in NOT_LAMBDAS and not name.upper().startswith("CUBE")


def formula_problems(formula: str, calls: set[str]) -> list[str]:
    """Problems in one formula. Calls to names that are not worksheet functions are added to
    ``calls``: they are allowed only when the workbook defines that name as a LAMBDA."""
    tokens = tokenize(formula)
    if tokens is None:
        return ["unreadable formula"]
    problems: list[str] = []
    for index, (kind, text) in enumerate(tokens):
        if kind == "pipe":
            problems.append("dde formula")
        elif kind == "sheet":
            if _adjacent(tokens, index + 1) != ("op", "!"):
                problems.append("unreadable formula")
            elif any(char in text for char in "[]\\/"):
                problems.append("external workbook reference in formula")
        elif kind == "bracket":
            before, after = _adjacent(tokens, index - 1), _adjacent(tokens, index + 1)
            following = _significant(tokens, index, 1)
            table = before[0] == "name"
            if after[0] == "name" or following == ("op", "!") or (
                    not table and (following[0] == "name" or text[1:-1].strip().isdigit())):
                problems.append("external workbook reference in formula")
        elif kind == "name":
            upper = text.upper()
            if upper.startswith("_XLUDF."):
                problems.append("user-defined function in formula")
                continue
            called = _significant(tokens, index, 1) == ("op", "(")
            name = function_name(text)
            if upper.startswith("_XLPM."):
                continue
            if called and name == "HYPERLINK":
                if not _hyperlink_is_safe(tokens, index):
                    problems.append("hyperlink formula to a target that is not http(s)/mailto")
            elif called and name not in LOCAL_FUNCTIONS:
                calls.add(name if name == upper else f"_xlfn.{name}")  # a prefixed name is no LAMBDA
            elif upper.startswith("_XLETA.") and name not in LOCAL_FUNCTIONS:
                problems.append(f"function {name[:40]!r} in formula")
    return problems


# Word field types that compute from the document alone (ECMA-376 Part 1 §17.16.5). Left out, so
# they are problems: DDE, DDEAUTO, INCLUDE, INCLUDETEXT, INCLUDEPICTURE, IMPORT, LINK (read files or
# programs), DATABASE (a data connection), RD (reads another document), AUTOTEXT, AUTOTEXTLIST,
# GLOSSARY (entries from a template), MACROBUTTON (runs a macro), PRINT (sends printer and
# PostScript codes), EMBED, CONTROL, HTMLCONTROL (OLE and ActiveX), PRIVATE. ADDIN only holds data
# for an installed add-in (citation managers) and runs nothing. HYPERLINK is judged by its target.
LOCAL_FIELDS = frozenset("""
= ADDIN ADDRESSBLOCK ADVANCE ASK AUTHOR AUTONUM AUTONUMLGL AUTONUMOUT BARCODE BIBLIOGRAPHY BIDIOUTLINE CITATION
COMMENTS COMPARE CREATEDATE DATE DISPLAYBARCODE DOCPROPERTY DOCVARIABLE EDITTIME EQ FILENAME FILESIZE FILLIN
FORMCHECKBOX FORMDROPDOWN FORMTEXT FTNREF GOTOBUTTON GREETINGLINE HYPERLINK IF INDEX INFO KEYWORDS LASTSAVEDBY
LISTNUM MERGEBARCODE MERGEFIELD MERGEREC MERGESEQ NEXT NEXTIF NOTEREF NUMCHARS NUMPAGES NUMWORDS PAGE PAGEREF
PRINTDATE QUOTE REF REVNUM SAVEDATE SECTION SECTIONPAGES SEQ SET SHAPE SKIPIF STYLEREF SUBJECT SYMBOL TA TC
TEMPLATE TIME TITLE TOA TOC USERADDRESS USERINITIALS USERNAME XE""".split())
NESTED = "\x00"  # stands for a nested field's result inside an instruction
FIELD_TYPE = re.compile(r'[^\s\\"{}\x00]+')
FIELD_ARGUMENT = re.compile(r'"((?:[^"\\]|\\.)*)"|(\\\S+)|([^\s"]+)')


def field_problems(instruction: str) -> list[str]:
    """Problems in one field instruction, read as Word reads it: the type is the first token,
    in any case; a type that a nested field would produce cannot be known, so it is a problem."""
    text = instruction.lstrip()
    if not text:
        return []
    if text.startswith(NESTED):
        return ["field type from a nested field"]
    if text.startswith("="):
        return []
    match = FIELD_TYPE.match(text)
    kind = match.group().upper() if match else ""
    if kind not in LOCAL_FIELDS:
        return [f"field {kind[:40]!r}"]
    if kind == "HYPERLINK" and not _hyperlink_field_is_safe(text[len(kind):]):
        return ["hyperlink field to a target that is not http(s)/mailto"]
    return []


def _hyperlink_field_is_safe(arguments: str) -> bool:
    """HYPERLINK "target" [\\l "bookmark"] [\\o "tip"] ...: the target, when there is one, is a
    literal http(s)/mailto address; \\l alone jumps inside the document."""
    if NESTED in arguments:
        return False
    expect_value = False
    for quoted, switch, bare in FIELD_ARGUMENT.findall(arguments):
        if switch:
            expect_value = switch.lower() in ("\\l", "\\o", "\\t")
            continue
        if expect_value:
            expect_value = False
            continue
        target = (quoted.replace('\\"', '"').replace("\\\\", "\\") if quoted else bare).strip()
        return bool(SAFE_LINK.match(target)) and mail_link_ok(target)
    return True
