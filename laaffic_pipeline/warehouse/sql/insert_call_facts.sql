-- The days $days (a DATE[]) of marts.call_facts from raw.call_records, in one set-based statement
-- (run after delete_call_facts_partition, in the same transaction).
--
-- Every raw record of a day gives one row: a value that cannot be parsed becomes NULL and its
-- problem is named in quality_flags. Raw already holds one copy per voice id and day (the latest,
-- insert_raw_records.sql), so the only copies dropped here are voice ids the previous day's window
-- also returned (a call on the boundary instant): they belong to the previous day. That rule reads
-- raw D-1 for every day D, whether or not D-1 is among $days, so the result depends neither on the
-- order in which days are built nor on how they are grouped into ranges.
--
-- Money: cost and rate are read as sent; $cost_currency (LAAFFIC_COST_CURRENCY, checked in Python)
-- says what currency they are in: 'record' = each record's own currency (the document's "Quotation
-- Currency"), or a three-letter code that applies to every record (the document labels cost
-- "Consumption amount (USD)"). Nothing is converted.
--
-- Reads the days' raw rows and the voice ids of each previous day only.

-- Parsing helpers; TEMP, so they live on this connection only and never in the database file.
-- Every value is first trimmed, and an empty string counts as not sent.
CREATE OR REPLACE TEMP MACRO api_text(sent) AS nullif(trim(sent), '');
-- ISO-8601 with an explicit offset ('Z' or '+08:00'), which is honoured; no offset = not a time.
CREATE OR REPLACE TEMP MACRO api_time(sent) AS
    CASE WHEN regexp_matches(sent, '(Z|[+-]\d{2}(:?\d{2})?)$') THEN try_cast(sent AS TIMESTAMPTZ) END;
-- Whole non-negative seconds, as a JSON integer or a string of digits (at most 9: no overflow below).
CREATE OR REPLACE TEMP MACRO api_seconds(sent) AS
    CASE WHEN regexp_matches(sent, '^\d{1,9}$') THEN try_cast(sent AS INTEGER) END;
-- Money is exact: a decimal string (or JSON number) to DECIMAL(18,6); anything else is NULL.
CREATE OR REPLACE TEMP MACRO api_money(sent) AS try_cast(sent AS DECIMAL(18, 6));
-- An exchange rate keeps 10 places.
CREATE OR REPLACE TEMP MACRO api_exchange_rate(sent) AS try_cast(sent AS DECIMAL(18, 10));
-- Elapsed whole seconds between two instants; NULL when negative or beyond INTEGER.
CREATE OR REPLACE TEMP MACRO elapsed_s(earlier, later) AS
    CASE WHEN date_sub('second', earlier, later) >= 0
        THEN try_cast(date_sub('second', earlier, later) AS INTEGER) END;
-- The flag for a value that was sent but not parsed, or not sent at all.
CREATE OR REPLACE TEMP MACRO problem(field, sent, parsed) AS
    CASE WHEN sent IS NULL THEN 'missing_' || field WHEN parsed IS NULL THEN 'invalid_' || field END;
-- rate per minute x seconds / 60, rounded half-up to 6 places. DuckDB divides decimals as DOUBLE,
-- so the division runs on integer micro-units instead.
CREATE OR REPLACE TEMP MACRO cost_of(rate, seconds) AS
    try_cast(
        sign(rate) * ((abs(rate::DECIMAL(38, 6) * 1000000)::HUGEINT * seconds * 2 + 60) // 120) * 0.000001
        AS DECIMAL(18, 6)
    );

INSERT INTO marts.call_facts BY NAME
WITH
    days AS (SELECT DISTINCT unnest($days::DATE[]) AS day),
    -- Voice ids of each day before one of the days, keyed by the day they would repeat on.
    previous_ids AS (
        SELECT partition_date + 1 AS next_day, voice_id
        FROM raw.call_records
        WHERE partition_date IN (SELECT day - 1 FROM days)
    ),
    day_records AS (
        SELECT partition_date, voice_id, record, fetched_at
        FROM raw.call_records AS today
        WHERE partition_date IN (SELECT day FROM days)
          AND NOT EXISTS (
            SELECT 1
            FROM previous_ids AS previous
            WHERE previous.next_day = today.partition_date
              AND previous.voice_id = today.voice_id
        )
    ),
    -- Each record's JSON is parsed once; every field as text, exactly what ->> would give.
    decoded AS (
        SELECT
            partition_date,
            voice_id,
            fetched_at,
            from_json(
                record,
                '{"sipGroupName": "VARCHAR", "phoneName": "VARCHAR", "callee": "VARCHAR",
                  "displayNum": "VARCHAR", "code": "VARCHAR", "submitTime": "VARCHAR",
                  "callTime": "VARCHAR", "ringingTime": "VARCHAR", "answerTime": "VARCHAR",
                  "hangupTime": "VARCHAR", "callDuration": "VARCHAR", "chargedDuration": "VARCHAR",
                  "terminationCode": "VARCHAR", "terminationReason": "VARCHAR", "cost": "VARCHAR",
                  "rate": "VARCHAR", "billPeriod": "VARCHAR", "recordingFileId": "VARCHAR",
                  "currency": "VARCHAR", "settleRate": "VARCHAR", "quoteExchange": "VARCHAR",
                  "settlePay": "VARCHAR", "baseCost": "VARCHAR"}'
            ) AS api,
            json_type(record, ['$.callDuration', '$.chargedDuration']) AS duration_types
        FROM day_records
    ),
    sent AS (
        SELECT
            partition_date AS call_date,
            voice_id,
            fetched_at,
            api_text(api.sipGroupName) AS sip_group_name,
            api_text(api.phoneName) AS phone_name,
            api_text(api.callee) AS callee,
            api_text(api.displayNum) AS display_num,
            api_text(api.code) AS code,
            api_text(api.submitTime) AS submit_text,
            api_text(api.callTime) AS call_text,
            api_text(api.ringingTime) AS ringing_text,
            api_text(api.answerTime) AS answer_text,
            api_text(api.hangupTime) AS hangup_text,
            api_text(api.callDuration) AS call_duration_text,
            duration_types[1] = 'VARCHAR' AS call_duration_quoted,
            api_text(api.chargedDuration) AS charged_duration_text,
            duration_types[2] = 'VARCHAR' AS charged_duration_quoted,
            api_text(api.terminationCode) AS termination_code,
            api_text(api.terminationReason) AS termination_reason,
            api_text(api.cost) AS cost_text,
            api_text(api.rate) AS rate_text,
            api_text(api.billPeriod) AS bill_period_text,
            api_text(api.recordingFileId) AS recording_file_id,
            api_text(api.currency) AS currency_text,
            api_text(api.settleRate) AS settle_rate_text,
            api_text(api.quoteExchange) AS quote_exchange_text,
            api_text(api.settlePay) AS settle_pay_text,
            api_text(api.baseCost) AS base_cost_text
        FROM decoded
    ),
    parsed AS (
        SELECT
            *,
            regexp_extract(code, '^([^()]*?)\s*\(\s*([^()]*?)\s*\)$', ['country', 'region']) AS code_parts,
            regexp_extract(bill_period_text, '^(\d{1,6})\+(\d{1,6})$', ['initial', 'increment']) AS bill_parts,
            api_time(submit_text) AS submit_time,
            api_time(call_text) AS call_time,
            api_time(ringing_text) AS ringing_time,
            api_time(answer_text) AS answer_time,
            api_time(hangup_text) AS hangup_time,
            api_seconds(call_duration_text) AS call_duration_s,
            api_seconds(charged_duration_text) AS charged_duration_s,
            api_money(cost_text) AS cost,
            api_money(rate_text) AS rate,
            CASE WHEN regexp_matches(currency_text, '^[A-Za-z]{3}$') THEN upper(currency_text) END AS quote_currency,
            api_money(settle_rate_text) AS settle_rate,
            api_exchange_rate(quote_exchange_text) AS quote_exchange,
            api_money(settle_pay_text) AS settle_pay,
            api_money(base_cost_text) AS base_cost,
            termination_code = '200' AS is_answered
        FROM sent
    ),
    billed AS (
        SELECT
            *,
            -- An increment of 0 would make the rule meaningless: such a bill period is invalid.
            CASE WHEN try_cast(bill_parts.increment AS INTEGER) > 0 THEN bill_period_text END AS bill_period,
            CASE WHEN bill_period IS NOT NULL THEN try_cast(bill_parts.initial AS INTEGER) END AS bill_initial_s,
            CASE WHEN bill_period IS NOT NULL THEN try_cast(bill_parts.increment AS INTEGER) END AS bill_increment_s
        FROM parsed
    ),
    derived AS (
        SELECT
            *,
            elapsed_s(ringing_time, answer_time) AS ring_s,
            elapsed_s(call_time, ringing_time) AS post_dial_delay_s,
            elapsed_s(answer_time, hangup_time) AS talk_s,
            CASE
                WHEN bill_initial_s IS NULL OR call_duration_s IS NULL THEN NULL
                WHEN call_duration_s = 0 THEN 0
                WHEN call_duration_s <= bill_initial_s THEN bill_initial_s
                ELSE bill_initial_s
                    + (call_duration_s - bill_initial_s + bill_increment_s - 1) // bill_increment_s
                    * bill_increment_s
            END AS expected_charged_s
        FROM billed
    ),
    reconciled AS (
        SELECT *, cost_of(rate, expected_charged_s) AS expected_cost
        FROM derived
    )
SELECT
    call_date,
    voice_id,
    sip_group_name,
    phone_name,
    callee,
    display_num,
    code,
    coalesce(nullif(code_parts.country, ''), code) AS country,
    nullif(code_parts.region, '') AS region,
    submit_time,
    call_time,
    ringing_time,
    answer_time,
    hangup_time,
    call_duration_s,
    charged_duration_s,
    termination_code,
    termination_reason,
    is_answered,
    cost,
    rate,
    quote_currency,
    CASE WHEN $cost_currency::VARCHAR = 'record' THEN quote_currency ELSE $cost_currency::VARCHAR END
        AS cost_currency,
    $cost_currency::VARCHAR AS cost_currency_rule,
    settle_rate,
    quote_exchange,
    settle_pay,
    base_cost,
    bill_period,
    bill_initial_s,
    bill_increment_s,
    recording_file_id,
    ring_s,
    post_dial_delay_s,
    talk_s,
    expected_charged_s,
    expected_cost,
    charged_duration_s <> expected_charged_s AS charged_duration_mismatch,
    -- Tolerance: one micro-unit, the last place both sides are rounded to (half-up vs half-even).
    abs(cost - expected_cost) > 0.000001 AS cost_mismatch,
    list_filter(
        [
            CASE WHEN voice_id IS NULL THEN 'missing_voice_id' END,
            CASE WHEN sip_group_name IS NULL THEN 'missing_sip_group_name' END,
            CASE WHEN phone_name IS NULL THEN 'missing_phone_name' END,
            CASE WHEN callee IS NULL THEN 'missing_callee' END,
            CASE WHEN code IS NULL THEN 'missing_code' END,
            problem('submit_time', submit_text, submit_time),
            problem('call_time', call_text, call_time),
            -- Ringing and answer times are empty on calls that never rang or were not answered.
            CASE WHEN ringing_text IS NOT NULL OR is_answered
                THEN problem('ringing_time', ringing_text, ringing_time) END,
            CASE WHEN answer_text IS NOT NULL OR is_answered
                THEN problem('answer_time', answer_text, answer_time) END,
            problem('hangup_time', hangup_text, hangup_time),
            problem('call_duration', call_duration_text, call_duration_s),
            CASE WHEN call_duration_quoted AND call_duration_s IS NOT NULL THEN 'call_duration_as_string' END,
            problem('charged_duration', charged_duration_text, charged_duration_s),
            CASE WHEN charged_duration_quoted AND charged_duration_s IS NOT NULL
                THEN 'charged_duration_as_string' END,
            CASE WHEN termination_code IS NULL THEN 'missing_termination_code' END,
            problem('cost', cost_text, cost),
            problem('rate', rate_text, rate),
            problem('bill_period', bill_period_text, bill_period),
            problem('currency', currency_text, quote_currency),
            -- The settlement fields are optional: only one sent but unreadable is a problem.
            CASE WHEN settle_rate_text IS NOT NULL AND settle_rate IS NULL THEN 'invalid_settle_rate' END,
            CASE WHEN quote_exchange_text IS NOT NULL AND quote_exchange IS NULL THEN 'invalid_quote_exchange' END,
            CASE WHEN settle_pay_text IS NOT NULL AND settle_pay IS NULL THEN 'invalid_settle_pay' END,
            CASE WHEN base_cost_text IS NOT NULL AND base_cost IS NULL THEN 'invalid_base_cost' END,
            -- Both times known but in the wrong order (or absurdly far apart).
            CASE WHEN ringing_time IS NOT NULL AND answer_time IS NOT NULL AND ring_s IS NULL
                THEN 'invalid_ring_s' END,
            CASE WHEN call_time IS NOT NULL AND ringing_time IS NOT NULL AND post_dial_delay_s IS NULL
                THEN 'invalid_post_dial_delay_s' END,
            CASE WHEN answer_time IS NOT NULL AND hangup_time IS NOT NULL AND talk_s IS NULL
                THEN 'invalid_talk_s' END
        ],
        lambda flag: flag IS NOT NULL
    ) AS quality_flags,
    fetched_at,
    -- Provisional while raw.provisional_days lists the day (read before it was final).
    call_date NOT IN (SELECT partition_date FROM raw.provisional_days) AS is_final
FROM reconciled;
