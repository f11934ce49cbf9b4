"""The closed loop (issue 14, point 5): results turned into training needs and pay guidance.

``needs`` finds the core indicators a result scored under their threshold and announces them as
``training.need`` events at publication; ``matrix`` is HR's merit matrix (grade x position in range -> a
raise percentage and a bonus factor) and what it advises for one compensation record; ``rules`` stores
both configurations (hr_admin's mutations). perfhub never writes to the training or payroll system.
"""
