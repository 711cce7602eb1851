// Words a person reads on a watch or a hub. Kept apart so they can be changed (or translated) in one place.
export function nudgeMessage(level: number, sittingSeconds: number, maxNudges: number): string {
  const m = Math.max(1, Math.round(sittingSeconds / 60));
  const minutes = `${m} minute${m === 1 ? '' : 's'}`;
  if (level === 1) {
    return `You have been sitting for ${minutes}. Stand up, roll your shoulders and walk for two minutes.`;
  }
  if (level < maxNudges) {
    return `Still sitting after ${minutes}. Take a short break now: stand, stretch your neck and upper back.`;
  }
  return `Last reminder: ${minutes} without a break. Your neck and shoulders need you to get up now.`;
}
