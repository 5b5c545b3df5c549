// Change freeze (issue 12): with `changeCalendar` set (a Systems Manager Change Calendar), every
// command that writes asks GetCalendarState first and refuses while the calendar is CLOSED,
// naming it and when it opens, unless the operator passes --emergency (which the journal keeps).
// A calendar that cannot be read is refused too: a freeze nobody can see is not "open".
import { GetCalendarStateCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { describeAwsError, RunbookError } from '../core/errors.js';

export interface FreezeState {
  calendar: string;
  /** OPEN, CLOSED, or UNKNOWN when it could not be read. */
  state: 'OPEN' | 'CLOSED' | 'UNKNOWN';
  /** When the state changes next (ISO 8601), when the calendar says. */
  nextTransition?: string;
  /** Why it is UNKNOWN. */
  error?: string;
}

/** A write refused by the change freeze: nothing was changed. */
export class ChangeFreezeError extends RunbookError {
  constructor(readonly freeze: FreezeState) {
    super(
      freeze.state === 'CLOSED'
        ? `change calendar ${freeze.calendar} is CLOSED${freeze.nextTransition ? ` until ${freeze.nextTransition}` : ''}: nothing was changed; pass --emergency to change production anyway (journaled)`
        : `change calendar ${freeze.calendar} could not be read (${freeze.error}): nothing was changed; pass --emergency to change production anyway (journaled)`,
    );
  }
}

/** GetCalendarState (read-only). Never throws: an unreadable calendar is UNKNOWN with the error. */
export async function calendarState(ssm: SSMClient, calendar: string): Promise<FreezeState> {
  try {
    const reply = await ssm.send(new GetCalendarStateCommand({ CalendarNames: [calendar] }));
    const state = reply.State === 'OPEN' || reply.State === 'CLOSED' ? reply.State : 'UNKNOWN';
    return {
      calendar,
      state,
      ...(reply.NextTransitionTime ? { nextTransition: reply.NextTransitionTime } : {}),
      ...(state === 'UNKNOWN' ? { error: `state ${JSON.stringify(reply.State ?? null)}` } : {}),
    };
  } catch (error) {
    // One line: an SDK deserialisation error spans several.
    return { calendar, state: 'UNKNOWN', error: describeAwsError(error).replace(/\s*\n\s*/g, ' ') };
  }
}

export interface FreezeDecision extends FreezeState {
  /** CLOSED or UNKNOWN, and the operator passed --emergency. */
  emergency: boolean;
}

/** Refuse unless the calendar is OPEN or --emergency was given; the decision goes into the journal. */
export async function checkChangeFreeze(ssm: SSMClient, calendar: string, emergency: boolean): Promise<FreezeDecision> {
  const freeze = await calendarState(ssm, calendar);
  if (freeze.state === 'OPEN') return { ...freeze, emergency: false };
  if (!emergency) throw new ChangeFreezeError(freeze);
  return { ...freeze, emergency: true };
}
