// `{{name}}`: an NPS survey scorer in JavaScript. The rules live in
// `rules.js`.
import { group, nps } from './rules.js';

export const scoring = {
  score(ctx, config, survey, response) {
    if (survey.kind !== 'nps') {
      throw `this scorer knows nps surveys, not ${survey.kind}`;
    }
    const score = JSON.parse(response.answers).score;
    if (!Number.isInteger(score) || score < 0 || score > 10) {
      throw 'an NPS answer is {"score": 0..10}';
    }
    return JSON.stringify({ score, group: group(score) });
  },
  aggregate(ctx, config, survey, scored) {
    const groups = scored.map((s) => JSON.parse(s).group);
    return JSON.stringify({ responses: groups.length, nps: nps(groups) });
  },
};
