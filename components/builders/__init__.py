from components.builders.cited_answer_builder import CitedAnswerBuilder
from components.builders.conversation_builder import ConversationBuilder

__all__ = ["CitedAnswerBuilder", "ConversationBuilder"]
