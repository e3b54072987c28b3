// Day arithmetic of the date slider and the month buttons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addDays, addMonths, clampDay, daysBetween, isDay, parseDay, period } from '../public/js/dates.js';

test('only real calendar days parse', () => {
  assert.ok(isDay('2018-02-28'));
  assert.ok(isDay('2016-02-29'));
  assert.equal(parseDay('2018-02-29'), null);
  assert.equal(parseDay('2018-13-01'), null);
  assert.equal(parseDay('2018-2-1'), null);
  assert.equal(parseDay('2018-02-15T00:00:00Z'), null);
  assert.equal(parseDay(undefined), null);
});

test('days add across months and years', () => {
  assert.equal(addDays('2018-02-28', 1), '2018-03-01');
  assert.equal(addDays('2018-01-01', -1), '2017-12-31');
  assert.equal(daysBetween('2017-01-01', '2018-12-31'), 729);
  assert.equal(daysBetween('2018-08-15', '2018-02-15'), -181);
});

test('a month step keeps the day of the month, or the last day the month has', () => {
  assert.equal(addMonths('2018-02-15', 6), '2018-08-15');
  assert.equal(addMonths('2018-01-31', 1), '2018-02-28');
  assert.equal(addMonths('2018-03-31', -1), '2018-02-28');
  assert.equal(addMonths('2017-12-15', 1), '2018-01-15');
  assert.equal(addMonths('2018-01-15', -1), '2017-12-15');
});

test('days clamp to the data span', () => {
  assert.equal(clampDay('2016-05-01', '2017-01-01', '2018-12-31'), '2017-01-01');
  assert.equal(clampDay('2019-05-01', '2017-01-01', '2018-12-31'), '2018-12-31');
  assert.equal(clampDay('2018-05-01', '2017-01-01', '2018-12-31'), '2018-05-01');
});

test('periods read naturally with open ends', () => {
  assert.equal(period('2017-07-09', '2018-07-31'), '2017-07-09 – 2018-07-31');
  assert.equal(period('1974-05-31', null), '1974-05-31 – open');
  assert.equal(period(null, null), 'always');
  assert.equal(period('2018-07-23', '2018-07-23'), 'on 2018-07-23');
});
