"""Drafting a reminder: the message's facts and context from a customer's standing
(``compose``), the slot it goes out in after the caps (``slotting``), and the SMS that
follows an unread e-mail (``fallback``). The sweeps call these; they hold no loop, clock
or transaction of their own."""
